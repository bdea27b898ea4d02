import Foundation
import ResumableRedis

/// CPU time of a process and Redis' `EVALSHA` counters, read before and after
/// a load, so the load's cost is reported per call: the figure that holds on
/// a shared, noisy machine (wall time does not).
struct CostSample: Sendable {
  /// User plus system CPU time of the server process, in microseconds.
  var serverCPUMicros: Double
  /// User plus system CPU time of the Redis process, in microseconds.
  var redisCPUMicros: Double
  /// `INFO commandstats`' `cmdstat_evalsha` calls and microseconds.
  var evalshaCalls: Double
  var evalshaMicros: Double

  /// Reads the counters now.
  static func take(serverPID: Int32, redisPID: Int32, redis: RedisClient) async throws -> CostSample {
    let stats = try await redis.send(["INFO", "commandstats"]).string ?? ""
    let line = stats.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_evalsha:") } ?? ""
    var fields: [String: Double] = [:]
    for pair in line.dropFirst("cmdstat_evalsha:".count).split(separator: ",") {
      let parts = pair.split(separator: "=", maxSplits: 1)
      if parts.count == 2, let value = Double(parts[1]) { fields[String(parts[0])] = value }
    }
    return CostSample(
      serverCPUMicros: cpuMicros(pid: serverPID) ?? 0, redisCPUMicros: cpuMicros(pid: redisPID) ?? 0,
      evalshaCalls: fields["calls"] ?? 0, evalshaMicros: fields["usec"] ?? 0)
  }

  /// `utime + stime` of `/proc/PID/stat`, in microseconds.
  static func cpuMicros(pid: Int32) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return nil }
    // Fields after the command name: state is field 3; utime and stime are 14 and 15.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    return (user + system) / ticks * 1_000_000
  }

  /// What happened between `self` and `later`, per call of `calls`.
  func cost(until later: CostSample, calls: Int) -> BenchReport.Cost {
    let count = Double(max(1, calls))
    return BenchReport.Cost(
      serverCpuMicrosPerCall: (later.serverCPUMicros - serverCPUMicros) / count,
      redisCpuMicrosPerCall: (later.redisCPUMicros - redisCPUMicros) / count,
      evalshaPerCall: (later.evalshaCalls - evalshaCalls) / count,
      evalshaMicrosPerCall: (later.evalshaMicros - evalshaMicros) / count)
  }
}

/// The two `CostSample`s of one load's measured window.
actor CostSamples {
  private let costs: BenchSuite.Costs
  private var first: CostSample?
  private var last: CostSample?

  init(_ costs: BenchSuite.Costs) {
    self.costs = costs
  }

  /// Samples the counters as the window opens (`true`) or closes.
  func take(_ opens: Bool) async {
    let sample = try? await CostSample.take(serverPID: costs.server, redisPID: costs.redis, redis: costs.client)
    if opens { first = sample } else { last = sample }
  }

  /// The window's cost per call, when both samples were taken.
  func cost(calls: Int) -> BenchReport.Cost? {
    guard let first, let last else { return nil }
    return first.cost(until: last, calls: calls)
  }
}
