import Foundation
import ResumableRedis

/// The subcommands that measure one thing (`bench fan-out`, `bench runs`) on a
/// server of their own.
extension BenchSuite {
  /// Starts a server on an embedded Redis under the first `appendfsync` policy
  /// asked for, runs `body` with it and the probe of its CPU and Redis', then
  /// stops it (also when `body` throws).
  func onOwnServer<T: Sendable>(
    _ body: (BenchServer, CostProbe) async throws -> T
  ) async throws -> (fsync: String, figures: T) {
    let fsync = options.fsync.first ?? .always
    let directory = options.temporaryDirectory + "/rbench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    options.progress("starting a server (embedded Redis, appendfsync \(fsync.rawValue)) in \(directory)")
    let server = try await BenchServer.start(executable: options.executable, directory: directory, fsync: fsync)
    let redis = RedisClient(address: server.redisAddress)
    do {
      try await Task.sleep(for: .milliseconds(300))
      let probe = CostProbe(server: server.pid, redis: [(try await Self.redisPID(redis), redis)])
      let figures = try await body(server, probe)
      await redis.close()
      await server.stop()
      return (fsync.rawValue, figures)
    } catch {
      await redis.close()
      await server.stop()
      throw error
    }
  }

  /// Only the throughput rows (`resumable bench runs`): 5-step no-op runs at
  /// each of `throughputConcurrency`'s callers, with CPU and `EVALSHA` per run.
  /// Short enough to repeat against another build (`--server`), and a steady
  /// load to profile the server under (`perf record -p`).
  public func runThroughput() async throws -> (fsync: String, figures: [BenchReport.Load]) {
    try await onOwnServer { server, probe in
      options.progress("5-step no-op runs at \(options.throughputConcurrency.map(String.init).joined(separator: ", ")) callers")
      return try await throughputLoads(socket: server.socketPath, costs: probe)
    }
  }

  /// Only the GetState rows (`resumable bench runs --get-state`): reads of
  /// completed 5-step runs at each of `getStateConcurrency`'s callers, with CPU
  /// and `EVALSHA` per read.
  public func runGetState() async throws -> (fsync: String, figures: [BenchReport.Load]) {
    try await onOwnServer { server, probe in
      options.progress("GetState at \(options.getStateConcurrency.map(String.init).joined(separator: ", ")) callers")
      return try await getStateLoads(socket: server.socketPath, costs: probe)
    }
  }
}

extension [BenchReport.Load] {
  /// The throughput rows alone (`resumable bench runs`), or the GetState rows
  /// (`unit` "read"), as text.
  public func table(fsync: String, unit: String = "run") -> String {
    var text = (unit == "run" ? "5-step no-op runs" : "GetState of completed 5-step runs") + ", appendfsync \(fsync)\n"
    text += "callers  \(unit)s/s  p50 / p99            CPU per \(unit), server / Redis (µs)  EVALSHA per \(unit), calls, µs\n"
    for load in self {
      let latency = "\(BenchReport.micros(load.latency.p50Micros)) / \(BenchReport.micros(load.latency.p99Micros))"
      text += String(format: "%7d  %6.0f  ", load.concurrency, load.perSecond)
      text += latency.padding(toLength: 21, withPad: " ", startingAt: 0)
      text += (load.cost.map(BenchReport.cpu) ?? "—").padding(toLength: 34, withPad: " ", startingAt: 0)
      text += (load.cost.map(BenchReport.evalsha) ?? "—") + "\n"
    }
    return text
  }

  /// The rows as pretty-printed JSON.
  public func json() throws -> String { try prettyJSON(self) }
}
