import ResumableRedis
import ResumableTestSupport
import Testing

/// A client on a `redis+sentinel://` address against real sentinels.
@Suite("Sentinel client")
struct SentinelClientTests {
  /// The TCP port of the node the client talks to.
  static func port(_ client: RedisClient) async throws -> Int? {
    let info = try await client.send(["INFO", "server"]).string ?? ""
    let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("tcp_port:") }
    return line.flatMap { Int($0.dropFirst("tcp_port:".count)) }
  }

  @Test func aSwitchedMasterIsFollowedByAClientThatOnlyReads() async throws {
    try await withTestSentinel { sentinel in
      let client = RedisClient(address: sentinel.address)
      defer { Task { await client.close() } }
      #expect(try await Self.port(client) == sentinel.masterPort)
      #expect(try await client.send(["ROLE"]).array?.first?.string == "master")
      // The client subscribed to +switch-master on one of the sentinels.
      try await eventually(timeout: .seconds(10), interval: .milliseconds(20)) {
        var subscribers = 0
        for port in sentinel.sentinelPorts {
          let node = RedisClient(address: .tcp(host: "127.0.0.1", port: port))
          // Sentinels have no PUBSUB command: count the subscribed clients.
          let clients = try await node.send(["CLIENT", "LIST"]).string ?? ""
          subscribers += clients.split(whereSeparator: \.isNewline).count { $0.contains(" sub=1 ") }
          await node.close()
        }
        guard subscribers == 1 else { throw TestSupportError("\(subscribers) subscribers to +switch-master") }
      }
      // A failover that keeps the old master alive, as a replica: no connection drops and,
      // as the client only reads, no READONLY reply tells it either.
      let admin = RedisClient(address: .tcp(host: "127.0.0.1", port: sentinel.sentinelPorts[0]))
      defer { Task { await admin.close() } }
      #expect(try await admin.send(["SENTINEL", "FAILOVER", RedisArgument(TestSentinel.masterName)]) == .simpleString("OK"))
      try await eventually(timeout: .seconds(20), interval: .milliseconds(20)) {
        guard try await sentinel.currentMasterPort() == sentinel.replicaPort else { throw TestSupportError("no switch yet") }
      }
      // The sentinels would turn the old master into a replica (which drops its clients)
      // only at their next look at it, up to 10 s later: the client must not wait for that.
      let switched = ContinuousClock.now
      try await eventually(timeout: .seconds(3), interval: .milliseconds(20)) {
        guard try await Self.port(client) == sentinel.replicaPort else { throw TestSupportError("still on the old master") }
      }
      print("sentinel client: on the new master \(ContinuousClock.now - switched) after the sentinel named it")
      #expect(try await client.send(["ROLE"]).array?.first?.string == "master")
      #expect(try await client.send(["SET", "after-the-switch", "1"]) == .simpleString("OK"))
    }
  }
}
