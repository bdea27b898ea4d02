import Foundation
import ResumableCore
public import ResumableRedis

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A Sentinel deployment for one test, on loopback ports in a temporary directory: a master,
/// a replica of it and three `redis-server --sentinel` processes watching them (quorum 2,
/// down after 1 s), so a killed master is replaced by its replica within seconds.
///
/// With a password, every process requires it (`requirepass`: the data nodes and, unless
/// told otherwise, the sentinels), the replica and the sentinels use it towards the master
/// (`masterauth`, `sentinel auth-pass`), and the sentinels towards each other.
///
/// - Important: Tests only. Prefer ``withTestSentinel(_:)``, which stops everything and
///   deletes the directory afterwards.
public struct TestSentinel: Sendable {
  /// The name the sentinels monitor the master under.
  public static let masterName = "resumable-test"

  /// The directory holding every process' data, configuration and logs.
  public let directory: TemporaryDirectory
  /// The master at start; a replica after a failover (once started again).
  public let master: RedisServerProcess
  /// The replica at start.
  public let replica: RedisServerProcess
  /// The TCP ports of the master and the replica.
  public let masterPort: Int, replicaPort: Int
  /// The sentinels' ports.
  public let sentinelPorts: [Int]
  /// The password the master and the replica require, if any.
  public let password: String?
  /// The password the sentinels require, if any.
  public let sentinelPassword: String?
  private let sentinels: [ChildProcess]

  /// What `--redis` takes: `redis+sentinel://127.0.0.1:P1,…/resumable-test` (without the
  /// password: give it in a file or the environment).
  public var url: String {
    "redis+sentinel://" + sentinelPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",") + "/\(Self.masterName)"
  }

  /// The address of ``url``, with the password.
  public var address: RedisAddress {
    authenticated(
      .sentinel(sentinelPorts.map { RedisAddress.Node(host: "127.0.0.1", port: $0) }, masterName: Self.masterName))
  }

  /// Starts the master and the replica, waits until the replica is in sync, then starts
  /// the sentinels and waits until each knows the replica and the other two sentinels.
  ///
  /// - Parameters:
  ///   - password: What the master and the replica require; nil: none.
  ///   - sentinelsRequirePassword: Whether the sentinels require it too (they use it towards
  ///     the master either way).
  public static func start(password: String? = nil, sentinelsRequirePassword: Bool = true) async throws -> TestSentinel {
    let directory = try await TemporaryDirectory.create(prefix: "rsn")
    let ports = try await LoopbackPorts.free(5)
    let auth = password.map { ["--requirepass", $0, "--masterauth", $0] } ?? []
    func node(_ name: String, _ port: Int, _ extra: [String]) -> RedisServerProcess {
      RedisServerProcess(
        configuration: .init(
          dataDirectory: directory.appending(name), appendFsync: .always,
          extraArguments: ["--port", "\(port)", "--bind", "127.0.0.1"] + auth + extra, stopGracePeriod: .seconds(2)))
    }
    let master = node("master", ports[0], [])
    let replica = node("replica", ports[1], ["--replicaof", "127.0.0.1", "\(ports[0])"])
    var sentinels: [ChildProcess] = []
    do {
      try await master.start()
      try await replica.start()
      try await waitForSync(replica: authenticated(replica.address, password))
      let executable = try RedisServerProcess.findExecutable(nil)
      for port in ports[2...] {
        let config = directory.appending("sentinel-\(port).conf")
        try """
          port \(port)
          bind 127.0.0.1
          dir \(directory.path)
          logfile \(directory.appending("sentinel-\(port).log"))
          sentinel monitor \(masterName) 127.0.0.1 \(ports[0]) 2
          sentinel down-after-milliseconds \(masterName) 1000
          sentinel failover-timeout \(masterName) 4000
          sentinel parallel-syncs \(masterName) 1
          \(password.map { "sentinel auth-pass \(masterName) \($0)" } ?? "")
          \(password.map { sentinelsRequirePassword ? "requirepass \($0)" : "" } ?? "")

          """.write(toFile: config, atomically: true, encoding: .utf8)
        sentinels.append(try ChildProcess([config, "--sentinel"], executable: executable, in: directory))
      }
      let deployment = TestSentinel(
        directory: directory, master: master, replica: replica, masterPort: ports[0], replicaPort: ports[1],
        sentinelPorts: Array(ports[2...]), password: password,
        sentinelPassword: sentinelsRequirePassword ? password : nil, sentinels: sentinels)
      try await deployment.waitUntilWatching()
      return deployment
    } catch {
      for sentinel in sentinels { sentinel.signal(SIGKILL) }
      await replica.stop()
      await master.stop()
      await directory.remove()
      throw error
    }
  }

  /// `address` with the deployment's password, if it has one.
  func authenticated(_ address: RedisAddress) -> RedisAddress { Self.authenticated(address, password) }

  /// The sentinel on `port`, with the password when the sentinels require one.
  public func sentinelAddress(_ port: Int) -> RedisAddress {
    Self.authenticated(.tcp(host: "127.0.0.1", port: port), sentinelPassword)
  }

  private static func authenticated(_ address: RedisAddress, _ password: String?) -> RedisAddress {
    password.map { address.authenticating(password: $0) } ?? address
  }

  private static func waitForSync(replica: RedisAddress) async throws {
    let client = RedisClient(address: replica)
    defer { Task { await client.close() } }
    try await eventually(timeout: .seconds(30), interval: .milliseconds(20)) {
      let info = try await client.send(["INFO", "replication"]).string ?? ""
      guard info.contains("master_link_status:up") else {
        throw TestSupportError("the replica is not in sync: \(info)")
      }
    }
  }

  /// Waits until every sentinel sees the replica and the two other sentinels: only then
  /// can they agree on a failover.
  private func waitUntilWatching() async throws {
    for port in sentinelPorts {
      let client = RedisClient(address: sentinelAddress(port))
      defer { Task { await client.close() } }
      try await eventually(timeout: .seconds(15), interval: .milliseconds(50)) {
        let replicas = try await client.send(["SENTINEL", "replicas", RedisArgument(Self.masterName)])
        let peers = try await client.send(["SENTINEL", "sentinels", RedisArgument(Self.masterName)])
        guard replicas.array?.count == 1, peers.array?.count == 2 else {
          throw TestSupportError(
            "sentinel \(port) knows \(replicas.array?.count ?? 0) replica(s) and \(peers.array?.count ?? 0) sentinel(s)")
        }
      }
    }
  }

  /// The port of the master the sentinels name now.
  public func currentMasterPort() async throws -> Int {
    let client = RedisClient(address: sentinelAddress(sentinelPorts[0]))
    defer { Task { await client.close() } }
    let reply = try await client.send(["SENTINEL", "get-master-addr-by-name", RedisArgument(Self.masterName)])
    guard let port = reply.array?.last?.string.flatMap({ Int($0) }) else {
      throw TestSupportError("the sentinel names no master: \(reply)")
    }
    return port
  }

  /// Waits until the sentinels have promoted the replica and it answers as a master.
  public func waitForFailover(timeout: Duration = .seconds(30)) async throws {
    try await eventually(timeout: timeout, interval: .milliseconds(50)) {
      guard try await currentMasterPort() == replicaPort else { throw TestSupportError("no failover yet") }
    }
    let client = RedisClient(address: authenticated(replica.address))
    defer { Task { await client.close() } }
    try await eventually(timeout: timeout, interval: .milliseconds(50)) {
      let role = try await client.send(["ROLE"]).array?.first?.string
      guard role == "master" else { throw TestSupportError("the replica is still a \(role ?? "?")") }
    }
  }

  /// Starts the old master again (after a `kill()` and a failover) and makes it a replica of
  /// the promoted one (`REPLICAOF`), as an operator would; the sentinels would too, within
  /// about ten seconds. Returns once the master the sentinels name has an online replica.
  ///
  /// On a loaded machine the sentinels may fail over a second time (the promoted node missed
  /// `down-after-milliseconds`) and promote the old master back: that is still a master with
  /// a replica in sync, which is what a caller waiting for replicas needs.
  public func restartOldMasterAsReplica() async throws {
    try await master.start()
    let client = RedisClient(address: authenticated(master.address))
    defer { Task { await client.close() } }
    let reply = try await client.send(["REPLICAOF", "127.0.0.1", RedisArgument(replicaPort)])
    guard reply.errorMessage == nil else { throw TestSupportError("REPLICAOF was refused: \(reply)") }
    try await eventually(timeout: .seconds(30), interval: .milliseconds(50)) {
      let port = try await currentMasterPort()
      let current = RedisClient(address: authenticated(.tcp(host: "127.0.0.1", port: port)))
      defer { Task { await current.close() } }
      let info = try await current.send(["INFO", "replication"]).string ?? ""
      guard info.contains("role:master"), info.contains("state=online") else {
        throw TestSupportError("the master the sentinels name (port \(port)) has no replica in sync: \(info)")
      }
    }
  }

  /// Stops every process and deletes the directory.
  public func shutdown() async {
    for sentinel in sentinels {
      sentinel.signal(SIGTERM)
      _ = await sentinel.wait(timeout: .seconds(2))
    }
    await replica.stop()
    await master.stop()
    await directory.remove()
  }
}

/// Runs `body` with a freshly started ``TestSentinel``, then stops it, also when `body` throws.
public func withTestSentinel<T>(
  password: String? = nil, sentinelsRequirePassword: Bool = true, isolation: isolated (any Actor)? = #isolation,
  _ body: (TestSentinel) async throws -> T
) async throws -> T {
  try await withResource(
    try await TestSentinel.start(password: password, sentinelsRequirePassword: sentinelsRequirePassword), body
  ) { await $0.shutdown() }
}
