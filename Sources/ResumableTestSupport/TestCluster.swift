import Foundation
public import ResumableRedis

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A Redis Cluster of three masters (no replicas) for one test, on loopback ports in a
/// temporary directory: `redis-server --cluster-enabled yes` three times, then
/// `redis-cli --cluster create`, which splits the 16,384 slots evenly.
///
/// - Important: Tests only. Prefer ``withTestCluster(_:)``, which stops the nodes and
///   deletes the directory afterwards.
public struct TestCluster: Sendable {
  /// The directory holding every node's data, configuration and logs.
  public let directory: TemporaryDirectory
  /// The masters, in port order.
  public let nodes: [RedisServerProcess]
  /// Their TCP ports.
  public let ports: [Int]

  /// What `--redis` takes: `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`.
  public var url: String { "redis+cluster://" + ports.map { "127.0.0.1:\($0)" }.joined(separator: ",") }

  /// The address of ``url``.
  public var address: RedisAddress { .cluster(ports.map { RedisAddress.Node(host: "127.0.0.1", port: $0) }) }

  /// Starts three nodes, joins them into one cluster and waits until every node says
  /// `cluster_state:ok`.
  public static func start() async throws -> TestCluster {
    let directory = try await TemporaryDirectory.create(prefix: "rcl")
    let ports = try await LoopbackPorts.free(3, clusterBus: true)
    let nodes = ports.map { port in
      RedisServerProcess(
        configuration: .init(
          dataDirectory: directory.appending("node-\(port)"), appendFsync: .always,
          extraArguments: [
            "--port", "\(port)", "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
          ], stopGracePeriod: .seconds(2)))
    }
    let cluster = TestCluster(directory: directory, nodes: nodes, ports: ports)
    do {
      for node in nodes { try await node.start() }
      let create = try await ChildProcess.run(
        ["--cluster", "create"] + ports.map { "127.0.0.1:\($0)" } + ["--cluster-yes"],
        executable: try LoopbackPorts.executable("redis-cli"), in: directory)
      guard create.status == 0 else {
        throw TestSupportError("redis-cli --cluster create failed (\(create.status)): \(create.stdout) \(create.stderr)")
      }
      for node in nodes {
        let client = RedisClient(address: node.address)
        defer { Task { await client.close() } }
        try await eventually(timeout: .seconds(15), interval: .milliseconds(50)) {
          let info = try await client.send(["CLUSTER", "INFO"]).string ?? ""
          guard info.contains("cluster_state:ok") else { throw TestSupportError("the cluster is not ready: \(info)") }
        }
      }
      return cluster
    } catch {
      await cluster.shutdown()
      throw error
    }
  }

  /// Which node (its port) serves each slot, from `CLUSTER SLOTS`.
  public func slotOwners() async throws -> [Int: Int] {
    let client = RedisClient(address: nodes[0].address)
    defer { Task { await client.close() } }
    var owners: [Int: Int] = [:]
    for range in try await client.send(["CLUSTER", "SLOTS"]).array ?? [] {
      guard let parts = range.array, parts.count >= 3, let start = parts[0].int, let end = parts[1].int,
        let port = parts[2].array?[1].int
      else { throw TestSupportError("unexpected CLUSTER SLOTS entry \(range)") }
      for slot in Int(start)...Int(end) { owners[slot] = Int(port) }
    }
    return owners
  }

  /// The node id (`CLUSTER MYID`) of the node on `port`.
  public func nodeID(port: Int) async throws -> String {
    let client = RedisClient(address: .tcp(host: "127.0.0.1", port: port))
    defer { Task { await client.close() } }
    guard let id = try await client.send(["CLUSTER", "MYID"]).string else { throw TestSupportError("no node id") }
    return id
  }

  /// Stops the nodes and deletes the directory.
  public func shutdown() async {
    for node in nodes { await node.stop() }
    await directory.remove()
  }
}

/// Runs `body` with a freshly started ``TestCluster``, then stops it, also when `body` throws.
public func withTestCluster<T>(
  isolation: isolated (any Actor)? = #isolation, _ body: (TestCluster) async throws -> T
) async throws -> T {
  let cluster = try await TestCluster.start()
  return try await withCleanup {
    try await body(cluster)
  } cleanup: {
    await cluster.shutdown()
  }
}
