import Foundation
import ResumableClient
import ResumableRedis
import ResumableWire

/// The map fan-out: a map of 100 no-op items, 16 at once, against 100 no-op
/// steps in list order, on the same server, run after run, interleaved.
extension BenchSuite {
  /// Only the map fan-out (`resumable bench fan-out`), on a server of its own
  /// under the first `appendfsync` policy asked for.
  public func runMapFanOut() async throws -> (fsync: String, figures: BenchReport.MapFanOut) {
    try await onOwnServer { server, probe in
      options.progress("map fan-out: 100 items 16 at once against 100 steps in order")
      return try await mapFanOut(socket: server.socketPath, probe: probe)
    }
  }

  /// 100 map items against 100 steps in order: after the warm-up runs of
  /// each, one run of each per round, each timed start to COMPLETED, with the
  /// CPU of the server and of Redis (and Redis' scripts) counted around it.
  func mapFanOut(socket: String, probe: CostProbe) async throws -> BenchReport.MapFanOut {
    try await LoadGenerator.withClients(1, socketPath: socket) { clients in
      let client = clients[0]
      let list = "[" + (0..<BenchWorkflows.mapItems).map(String.init).joined(separator: ",") + "]"
      _ = try await timedRuns(BenchWorkflows.noop100, 0, client: client)
      _ = try await timedRuns(BenchWorkflows.map100, 0, client: client, input: list)
      var sequential = (samples: LatencySamples(), cost: CostTotal())
      var map = (samples: LatencySamples(), cost: CostTotal())
      for _ in 0..<max(2, options.fanOutRuns ?? options.stepRuns / 10) {
        var before = try await CostSample.take(probe)
        sequential.samples.merge(try await timedRuns(BenchWorkflows.noop100, 1, client: client, warmup: false))
        var after = try await CostSample.take(probe)
        sequential.cost.add(from: before, to: after)
        before = try await CostSample.take(probe)
        map.samples.merge(try await timedRuns(BenchWorkflows.map100, 1, client: client, input: list, warmup: false))
        after = try await CostSample.take(probe)
        map.cost.add(from: before, to: after)
      }
      let (s, m) = (sequential.samples.summary(), map.samples.summary())
      let items = Double(BenchWorkflows.mapItems)
      return BenchReport.MapFanOut(
        sequentialRun: s, mapRun: m, sequentialPerSecond: items / max(s.p50Micros, 1) * 1_000_000,
        mapPerSecond: items / max(m.p50Micros, 1) * 1_000_000,
        sequentialCostPerStep: sequential.cost.perCall(BenchWorkflows.mapItems * s.count),
        mapCostPerItem: map.cost.perCall(BenchWorkflows.mapItems * m.count))
    }
  }
}

/// The sum of the costs of several measured windows.
struct CostTotal {
  private var total = CostSample(serverCPUMicros: 0, redisCPUMicros: 0, evalshaCalls: 0, evalshaMicros: 0)

  mutating func add(from before: CostSample, to after: CostSample) {
    total.serverCPUMicros += after.serverCPUMicros - before.serverCPUMicros
    total.redisCPUMicros += after.redisCPUMicros - before.redisCPUMicros
    total.evalshaCalls += after.evalshaCalls - before.evalshaCalls
    total.evalshaMicros += after.evalshaMicros - before.evalshaMicros
  }

  func perCall(_ calls: Int) -> BenchReport.Cost {
    CostSample(serverCPUMicros: 0, redisCPUMicros: 0, evalshaCalls: 0, evalshaMicros: 0).cost(until: total, calls: calls)
  }
}
