import Foundation

/// The throughput rows on one Redis and on a local Redis Cluster, measured side by side by
/// `resumable bench --redis-topology cluster`; printed as a table, written as JSON with `--json`.
public struct TopologyReport: Codable, Sendable {
  public var machine: MachineInfo
  /// The cluster's masters.
  public var masters: Int
  /// One entry per `appendfsync` policy measured (every Redis process runs with it).
  public var comparisons: [Comparison]

  /// The same loads on both deployments, at each concurrency.
  public struct Comparison: Codable, Sendable {
    /// Every Redis process' `appendfsync`.
    public var fsync: String
    /// 5-step runs against one `redis-server` (TCP loopback); Redis CPU is that process'.
    public var single: [BenchReport.Load]
    /// The same against the cluster; Redis CPU and `EVALSHA` are summed over its masters.
    public var cluster: [BenchReport.Load]

    /// Cluster over one Redis, per run, at each concurrency both measured with costs.
    public var ratios: [Ratio] {
      zip(single, cluster).compactMap { one, cluster in
        // CPU is counted in clock ticks (10 ms): a window too short to see any has no ratio.
        guard let a = one.cost, let b = cluster.cost, a.serverCpuMicrosPerCall > 0, a.redisCpuMicrosPerCall > 0 else {
          return nil
        }
        return Ratio(
          concurrency: one.concurrency, serverCpu: b.serverCpuMicrosPerCall / a.serverCpuMicrosPerCall,
          redisCpu: b.redisCpuMicrosPerCall / a.redisCpuMicrosPerCall,
          totalCpu: (b.serverCpuMicrosPerCall + b.redisCpuMicrosPerCall)
            / (a.serverCpuMicrosPerCall + a.redisCpuMicrosPerCall),
          runsPerSecond: cluster.perSecond / max(one.perSecond, 1))
      }
    }

    private enum CodingKeys: String, CodingKey { case fsync, single, cluster, ratios }

    public init(fsync: String, single: [BenchReport.Load], cluster: [BenchReport.Load]) {
      self.fsync = fsync
      self.single = single
      self.cluster = cluster
    }

    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      self.init(
        fsync: try container.decode(String.self, forKey: .fsync),
        single: try container.decode([BenchReport.Load].self, forKey: .single),
        cluster: try container.decode([BenchReport.Load].self, forKey: .cluster))
    }

    /// Writes the ratios too, for readers of the JSON.
    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(fsync, forKey: .fsync)
      try container.encode(single, forKey: .single)
      try container.encode(cluster, forKey: .cluster)
      try container.encode(ratios, forKey: .ratios)
    }
  }

  /// Cluster over one Redis at one concurrency.
  public struct Ratio: Codable, Sendable {
    public var concurrency: Int
    /// Server CPU per run (the target: at most 1.5).
    public var serverCpu: Double
    /// Redis CPU per run (all masters against the one process).
    public var redisCpu: Double
    /// Server plus Redis CPU per run.
    public var totalCpu: Double
    /// Runs per second.
    public var runsPerSecond: Double
  }

  /// The report as a text table: a column per deployment and policy, then the target.
  public func table() -> String {
    var rows = [
      ["figure"]
        + comparisons.flatMap { ["one Redis (appendfsync \($0.fsync))", "\(masters)-master cluster (appendfsync \($0.fsync))"] }
        + ["target"]
    ]
    func loadRow(_ label: String, _ concurrency: Int, _ value: (BenchReport.Load) -> String?) {
      rows.append(
        [label]
          + comparisons.flatMap { comparison in
            [comparison.single, comparison.cluster].map { loads in
              loads.first { $0.concurrency == concurrency }.flatMap(value) ?? "—"
            }
          } + [""])
    }
    func ratioRow(_ label: String, _ concurrency: Int, target: String = "", _ value: (Ratio) -> String) {
      rows.append(
        [label]
          + comparisons.flatMap { ["", $0.ratios.first { $0.concurrency == concurrency }.map(value) ?? "—"] }
          + [target])
    }
    for concurrency in comparisons.first?.single.map(\.concurrency) ?? [] {
      loadRow("5-step runs, \(concurrency) callers: runs/s", concurrency, BenchReport.rate)
      loadRow("  p50 / p99", concurrency) { BenchReport.latency($0.latency) }
      loadRow("  CPU per run: server / Redis (µs)", concurrency) { $0.cost.map(BenchReport.cpu) }
      loadRow("  EVALSHA per run: calls, µs in Redis", concurrency) { $0.cost.map(BenchReport.evalsha) }
      ratioRow("  cluster / one Redis: server CPU per run", concurrency, target: "≤ 1.5×") {
        String(format: "%.2f×", $0.serverCpu)
      }
      ratioRow("  cluster / one Redis: Redis CPU; server + Redis CPU", concurrency) {
        String(format: "%.2f×; %.2f×", $0.redisCpu, $0.totalCpu)
      }
      ratioRow("  cluster / one Redis: runs/s", concurrency) { String(format: "%.2f×", $0.runsPerSecond) }
    }
    return machine.header(title: "Resumable benchmark: one Redis against a \(masters)-master Redis Cluster")
      + "server (release build) + Redis + this load generator on one machine; the server reaches Redis over TCP\n"
      + "loopback; the cluster's Redis CPU and EVALSHA are summed over its masters\n\n" + BenchReport.render(rows)
  }

  /// The report as pretty-printed JSON.
  public func json() throws -> String { try prettyJSON(self) }

  /// Reads a report that `json()` wrote.
  public static func decode(json: String) throws -> TopologyReport {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(TopologyReport.self, from: Data(json.utf8))
  }
}
