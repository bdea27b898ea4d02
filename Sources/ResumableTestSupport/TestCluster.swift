import ResumableCore
public import ResumableRedis

/// A Redis Cluster of three masters (no replicas) for one test, on loopback ports in a
/// temporary directory: a ``LocalRedisCluster`` (`redis-server --cluster-enabled yes` three
/// times, then `redis-cli --cluster create`, which splits the 16,384 slots evenly).
///
/// - Important: Tests only. Prefer ``withTestCluster(_:)``, which stops the nodes and
///   deletes the directory afterwards.
public struct TestCluster: Sendable {
  /// The directory holding every node's data, configuration and logs.
  public let directory: TemporaryDirectory
  /// The running cluster.
  public let cluster: LocalRedisCluster

  /// The masters, in port order.
  public var nodes: [RedisServerProcess] { cluster.nodes }
  /// Their TCP ports.
  public var ports: [Int] { cluster.ports }
  /// What `--redis` takes: `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`.
  public var url: String { cluster.url }
  /// The address of ``url``.
  public var address: RedisAddress { cluster.address }

  /// Starts three nodes, joins them into one cluster and waits until every node says
  /// `cluster_state:ok`.
  public static func start() async throws -> TestCluster {
    let directory = try await TemporaryDirectory.create(prefix: "rcl")
    do {
      return TestCluster(directory: directory, cluster: try await LocalRedisCluster.start(in: directory.path))
    } catch {
      await directory.remove()
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
    await cluster.stop()
    await directory.remove()
  }
}

/// Runs `body` with a freshly started ``TestCluster``, then stops it, also when `body` throws.
public func withTestCluster<T>(
  isolation: isolated (any Actor)? = #isolation, _ body: (TestCluster) async throws -> T
) async throws -> T {
  try await withResource(try await TestCluster.start(), body) { await $0.shutdown() }
}
