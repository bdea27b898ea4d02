import NIOCore
import NIOPosix

/// TCP ports on 127.0.0.1 for local Redis processes (sentinels, cluster nodes) that must
/// listen on TCP: a benchmark's or a test's.
public enum LoopbackPorts {
  /// `count` distinct ports the OS just handed out; the servers bind them right after.
  ///
  /// With `clusterBus`, each port is at most 55,535 and its port + 10,000 was free too: a
  /// cluster node listens on both (its bus).
  ///
  /// - Throws: `RedisServerError` (`spawnFailed`) when no such ports are found.
  public static func free(_ count: Int, clusterBus: Bool = false) async throws -> [Int] {
    var ports: [Int] = []
    var probes: [any Channel] = []
    defer { for probe in probes { probe.close(promise: nil) } }
    // All held at once, so the OS hands out distinct ones.
    var tries = 0
    while ports.count < count {
      tries += 1
      guard tries < 500 else {
        throw RedisServerError(code: .spawnFailed, message: "no \(count) free loopback ports found")
      }
      let probe = try await bind(0)
      probes.append(probe)
      guard let port = probe.localAddress?.port else {
        throw RedisServerError(code: .spawnFailed, message: "a bound probe has no port")
      }
      if clusterBus {
        guard port <= 55535, let bus = try? await bind(port + 10000) else { continue }
        probes.append(bus)
      }
      ports.append(port)
    }
    for probe in probes { try? await probe.close() }
    probes = []
    return ports
  }

  private static func bind(_ port: Int) async throws -> any Channel {
    try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: port).get()
  }
}
