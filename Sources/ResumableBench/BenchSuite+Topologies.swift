import Foundation
import ResumableRedis

extension BenchSuite {
  /// The throughput rows on one Redis and on a local Redis Cluster, side by side
  /// (`resumable bench --redis-topology cluster`): for each `appendfsync` policy asked for,
  /// a `redis-server` on a loopback TCP port and a cluster of ``masters`` masters on
  /// loopback ports (both with that policy), a server on each (`--redis redis://…` and
  /// `--redis redis+cluster://…`), and at each of `topologyConcurrency` callers a load on
  /// one, then on the other, each with its CPU per run.
  ///
  /// Both Redis deployments are reached over TCP, so the comparison isolates what routing
  /// by slot costs (a map lookup per command, a connection per master, more processes).
  public func runTopologies(masters: Int = 3) async throws -> TopologyReport {
    var comparisons: [TopologyReport.Comparison] = []
    var redisVersion = "unknown"
    let loadBefore = MachineInfo.loadAverage()
    for fsync in options.fsync {
      let directory = try makeDirectory()
      defer { try? FileManager.default.removeItem(atPath: directory) }
      options.progress("starting one Redis and a \(masters)-master cluster (appendfsync \(fsync.rawValue)) in \(directory)")
      let single = try await Deployment.single(in: directory + "/one", fsync: fsync, suite: self)
      do {
        let cluster = try await Deployment.cluster(in: directory + "/cluster", masters: masters, fsync: fsync, suite: self)
        do {
          if redisVersion == "unknown" { redisVersion = try await Self.redisVersion(single.probe.redis[0].client) }
          comparisons.append(try await compare(single, cluster, fsync: fsync, masters: masters))
        } catch {
          await cluster.stop()
          throw error
        }
        await cluster.stop()
      } catch {
        await single.stop()
        throw error
      }
      await single.stop()
    }
    var machine = MachineInfo.current(redisVersion: redisVersion)
    machine.loadBefore = loadBefore
    machine.loadAfter = MachineInfo.loadAverage()
    return TopologyReport(machine: machine, masters: masters, comparisons: comparisons)
  }

  /// One load on each deployment per level, alternating, so both see the same machine.
  private func compare(
    _ single: Deployment, _ cluster: Deployment, fsync: RedisServerProcess.Configuration.AppendFsync, masters: Int
  ) async throws -> TopologyReport.Comparison {
    var comparison = TopologyReport.Comparison(fsync: fsync.rawValue, single: [], cluster: [])
    for level in options.topologyConcurrency {
      options.progress("5-step runs, \(level) callers: one Redis")
      comparison.single += try await throughputLoads(socket: single.server.socketPath, costs: single.probe, levels: [level])
      options.progress("5-step runs, \(level) callers: \(masters)-master cluster")
      comparison.cluster += try await throughputLoads(socket: cluster.server.socketPath, costs: cluster.probe, levels: [level])
    }
    return comparison
  }

  /// A server on its Redis: one `redis-server`, or a cluster's masters.
  private struct Deployment {
    var server: BenchServer
    var probe: CostProbe
    var redis: [RedisServerProcess]

    static func single(
      in directory: String, fsync: RedisServerProcess.Configuration.AppendFsync, suite: BenchSuite
    ) async throws -> Deployment {
      let port = try await LoopbackPorts.free(1)[0]
      let redis = RedisServerProcess(
        configuration: .init(
          dataDirectory: directory + "/redis", appendFsync: fsync, extraArguments: ["--port", "\(port)", "--bind", "127.0.0.1"],
          stopGracePeriod: .seconds(5)))
      try await redis.start()
      return try await started(redis: [redis], url: "redis://127.0.0.1:\(port)", in: directory, fsync: fsync, suite: suite)
    }

    static func cluster(
      in directory: String, masters: Int, fsync: RedisServerProcess.Configuration.AppendFsync, suite: BenchSuite
    ) async throws -> Deployment {
      let cluster = try await LocalRedisCluster.start(in: directory + "/redis", masters: masters, appendFsync: fsync)
      return try await started(redis: cluster.nodes, url: cluster.url, in: directory, fsync: fsync, suite: suite)
    }

    /// Starts the server on `url`; stops `redis` when it cannot.
    private static func started(
      redis: [RedisServerProcess], url: String, in directory: String, fsync: RedisServerProcess.Configuration.AppendFsync,
      suite: BenchSuite
    ) async throws -> Deployment {
      let clients = redis.map { RedisClient(address: $0.address) }
      do {
        try FileManager.default.createDirectory(atPath: directory + "/server", withIntermediateDirectories: true)
        let server = try await BenchServer.start(
          executable: suite.options.executable, directory: directory + "/server", fsync: fsync, redis: url)
        let pids = redis.compactMap(\.pid)
        guard pids.count == redis.count else { throw BenchError("a Redis of the benchmark exited") }
        return Deployment(server: server, probe: CostProbe(server: server.pid, redis: Array(zip(pids, clients))), redis: redis)
      } catch {
        for client in clients { await client.close() }
        for process in redis { await process.stop() }
        throw error
      }
    }

    func stop() async {
      await server.stop()
      for (_, client) in probe.redis { await client.close() }
      for process in redis { await process.stop() }
    }
  }
}
