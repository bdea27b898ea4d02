import Foundation
import ResumableRedis

/// The processes a load's cost is read from: the server, and every Redis process
/// (one, or each master of a cluster) with a client to each.
struct CostProbe: Sendable {
  var server: Int32
  var redis: [(pid: Int32, client: RedisClient)]
}

/// CPU time of a process and Redis' `EVALSHA` counters, read before and after
/// a load, so the load's cost is reported per call: the figure that holds on
/// a shared, noisy machine (wall time does not).
struct CostSample: Sendable {
  /// User plus system CPU time of the server process, in microseconds.
  var serverCPUMicros: Double
  /// User plus system CPU time of the Redis processes (summed), in microseconds.
  var redisCPUMicros: Double
  /// `INFO commandstats`' `cmdstat_evalsha` calls and microseconds (summed over the Redis processes).
  var evalshaCalls: Double
  var evalshaMicros: Double

  /// Reads the counters now.
  static func take(_ probe: CostProbe) async throws -> CostSample {
    var sample = CostSample(
      serverCPUMicros: cpuMicros(pid: probe.server) ?? 0, redisCPUMicros: 0, evalshaCalls: 0, evalshaMicros: 0)
    for redis in probe.redis {
      let stats = try await redis.client.send(["INFO", "commandstats"]).string ?? ""
      let line = stats.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_evalsha:") } ?? ""
      var fields: [String: Double] = [:]
      for pair in line.dropFirst("cmdstat_evalsha:".count).split(separator: ",") {
        let parts = pair.split(separator: "=", maxSplits: 1)
        if parts.count == 2, let value = Double(parts[1]) { fields[String(parts[0])] = value }
      }
      sample.redisCPUMicros += cpuMicros(pid: redis.pid) ?? 0
      sample.evalshaCalls += fields["calls"] ?? 0
      sample.evalshaMicros += fields["usec"] ?? 0
    }
    return sample
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
  private let probe: CostProbe
  private var first: CostSample?
  private var last: CostSample?

  init(_ probe: CostProbe) {
    self.probe = probe
  }

  /// Samples the counters as the window opens (`true`) or closes.
  func take(_ opens: Bool) async {
    let sample = try? await CostSample.take(probe)
    if opens { first = sample } else { last = sample }
  }

  /// The window's cost per call, when both samples were taken.
  func cost(calls: Int) -> BenchReport.Cost? {
    guard let first, let last else { return nil }
    return first.cost(until: last, calls: calls)
  }
}
