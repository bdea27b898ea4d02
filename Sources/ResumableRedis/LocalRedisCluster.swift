import Foundation

/// A Redis Cluster of a few masters (no replicas) on this machine: `redis-server
/// --cluster-enabled yes` child processes on loopback TCP ports, joined with `redis-cli
/// --cluster create`, which splits the 16,384 slots evenly.
///
/// What `resumable bench --redis-topology cluster` measures against, and what the cluster
/// tests run on; a production cluster is its operator's to set up.
///
/// - Important: Call ``stop()`` when done. The nodes die with this process (see
///   ``RedisServerProcess``); their data stays in ``directory`` for the caller to delete.
public struct LocalRedisCluster: Sendable {
  /// The directory holding each node's data, configuration and logs (`node-PORT/`).
  public let directory: String
  /// The masters, in port order.
  public let nodes: [RedisServerProcess]
  /// Their TCP ports on 127.0.0.1.
  public let ports: [Int]

  /// What `--redis` takes: `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…`.
  public var url: String { "redis+cluster://" + ports.map { "127.0.0.1:\($0)" }.joined(separator: ",") }

  /// The address of ``url``.
  public var address: RedisAddress { .cluster(ports.map { RedisAddress.Node(host: "127.0.0.1", port: $0) }) }

  /// Starts `masters` nodes in `directory` (created if missing; short enough for the
  /// nodes' Unix sockets inside it), joins them into one cluster and waits until every
  /// node says `cluster_state:ok`.
  ///
  /// - Parameters:
  ///   - directory: Where the nodes keep their data.
  ///   - masters: How many masters (at least 3, as `redis-cli --cluster create` requires).
  ///   - appendFsync: Each node's AOF fsync policy.
  /// - Throws: `RedisServerError` when a node does not start (`notInstalled` names the
  ///   package), or the cluster does not form (with `redis-cli`'s output).
  public static func start(
    in directory: String, masters: Int = 3, appendFsync: RedisServerProcess.Configuration.AppendFsync = .always
  ) async throws -> LocalRedisCluster {
    let ports = try await LoopbackPorts.free(masters, clusterBus: true)
    let nodes = ports.map { port in
      RedisServerProcess(
        configuration: .init(
          dataDirectory: directory + "/node-\(port)", appendFsync: appendFsync,
          extraArguments: [
            "--port", "\(port)", "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
          ], stopGracePeriod: .seconds(2)))
    }
    let cluster = LocalRedisCluster(directory: directory, nodes: nodes, ports: ports)
    do {
      for node in nodes { try await node.start() }
      try await cluster.create()
      for node in nodes { try await waitUntilServing(node) }
      return cluster
    } catch {
      await cluster.stop()
      throw error
    }
  }

  /// `redis-cli --cluster create` on the nodes.
  private func create() async throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try RedisServerProcess.findExecutable(nil, named: "redis-cli"))
    process.arguments = ["--cluster", "create"] + ports.map { "127.0.0.1:\($0)" } + ["--cluster-yes"]
    let outputPath = directory + "/cluster-create.out"
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    let output = FileHandle(forWritingAtPath: outputPath)
    defer { try? output?.close() }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = output
    process.standardError = output
    let status = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
      process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
      do { try process.run() } catch {
        process.terminationHandler = nil
        continuation.resume(throwing: error)
      }
    }
    guard status == 0 else {
      let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
      throw RedisServerError(code: .notReady, message: "redis-cli --cluster create failed (\(status)): \(text)")
    }
  }

  /// Waits until `node` says `cluster_state:ok` (every slot served, as it sees it).
  private static func waitUntilServing(_ node: RedisServerProcess, timeout: Duration = .seconds(15)) async throws {
    let client = RedisClient(address: node.address)
    defer { Task { await client.close() } }
    let deadline = ContinuousClock.now + timeout
    var info = ""
    while ContinuousClock.now < deadline {
      info = (try? await client.send(["CLUSTER", "INFO"]).string) ?? ""
      if info.contains("cluster_state:ok") { return }
      try await Task.sleep(for: .milliseconds(50))
    }
    throw RedisServerError(
      code: .notReady, message: "the cluster did not form within \(timeout) (\(node.address)): \(info)")
  }

  /// Stops every node (SIGTERM, then SIGKILL after 2 s).
  public func stop() async {
    for node in nodes { await node.stop() }
  }
}
