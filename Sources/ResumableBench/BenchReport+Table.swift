import Foundation

extension BenchReport {
  /// The report as a text table: one row per figure, one column per fsync
  /// policy, and the target.
  public func table() -> String {
    var rows: [[String]] = [["figure"] + configurations.map { "appendfsync \($0.fsync)" } + ["target"]]
    func row(_ label: String, target: String = "", _ value: (ConfigurationFigures) -> String?) {
      rows.append([label] + configurations.map { value($0) ?? "—" } + [target])
    }
    row("Redis PING round trip p50 / p99") { Self.latency($0.redisPing) }
    row("floor: commit script, no server p50 / p99") { Self.latency($0.floorCommit) }
    row("step overhead (20 no-op steps) per step p50 / p99") { Self.latency($0.stepOverhead.perStep) }
    row("  ratio to the floor p50 / p99", target: "p50 ≤ 1.3×") {
      String(format: "%.2f× / %.2f×", $0.stepOverhead.ratioP50, $0.stepOverhead.ratioP99)
    }
    row("  marginal step (20-step − 1-step run) / 19, p50") {
      String(format: "%@ (%.2f×)", Self.micros($0.stepOverhead.marginalPerStepP50Micros), $0.stepOverhead.marginalRatioP50)
    }
    row("  1-step run p50 / p99") { Self.latency($0.stepOverhead.oneStepRun) }
    row("5 no-op steps in process, run p50 / p99") { $0.workerOverhead.map { Self.latency($0.inProcessRun) } }
    row("  through a Swift worker, run p50 / p99") { $0.workerOverhead.map { Self.latency($0.swiftWorkerRun) } }
    row("  worker step overhead (Swift), per step p50", target: "≤ 150 µs") {
      $0.workerOverhead.map { Self.micros($0.swiftPerStepP50Micros) }
    }
    row("  through a Python worker, run p50 / p99") {
      $0.workerOverhead.map { overhead in overhead.pythonWorkerRun.map { Self.latency($0) } ?? "skipped: \(overhead.pythonSkipped ?? "")" }
    }
    row("  worker step overhead (Python), per step p50", target: "≤ 150 µs") {
      $0.workerOverhead.flatMap { $0.pythonPerStepP50Micros.map(Self.micros) }
    }
    row("  server CPU per step: in process / Swift / Python worker") { $0.workerOverhead?.serverCPUPerStep }
    row("  Python worker process CPU per step") {
      $0.workerOverhead?.pythonWorkerProcessCpuPerStepMicros.map(Self.micros)
    }
    row("100 no-op steps in order: steps/s (run p50)") {
      $0.mapFanOut.map { String(format: "%.0f (%@)", $0.sequentialPerSecond, Self.micros($0.sequentialRun.p50Micros)) }
    }
    row("map of 100 no-op items, 16 at once: items/s (run p50)", target: "≥ 3× in order") {
      $0.mapFanOut.map {
        String(format: "%.0f (%@), %.1f×", $0.mapPerSecond, Self.micros($0.mapRun.p50Micros), $0.mapPerSecond / max($0.sequentialPerSecond, 1))
      }
    }
    row("  CPU per step / per item: server, Redis (µs)") {
      $0.mapFanOut.flatMap { fanOut in
        guard let steps = fanOut.sequentialCostPerStep, let items = fanOut.mapCostPerItem else { return nil }
        return Self.cpu(steps) + " / " + Self.cpu(items)
      }
    }
    row("  EVALSHA per step / per item: calls, µs") {
      $0.mapFanOut.flatMap { fanOut in
        guard let steps = fanOut.sequentialCostPerStep, let items = fanOut.mapCostPerItem else { return nil }
        return Self.evalsha(steps) + " / " + Self.evalsha(items)
      }
    }
    row("resume (failed at 4 of 5) answered p50 / p99", target: "p50 ≤ 0.4 ms") {
      $0.resume.map { Self.latency($0.answered) }
    }
    row("resume to completion (steps 4, 5) p50 / p99") { $0.resume.map { Self.latency($0.toCompletion) } }
    for index in configurations.first?.getState.indices ?? 0..<0 {
      let concurrency = configurations[0].getState[index].concurrency
      row("GetState, \(concurrency) clients: req/s", target: concurrency == 32 ? "≥ 25,000" : "") {
        $0.getState.count > index ? Self.rate($0.getState[index]) : nil
      }
      row("  p50 / p99 / p999", target: concurrency == 32 ? "p99 ≤ 1 ms" : "") {
        $0.getState.count > index ? Self.latency($0.getState[index].latency, p999: true) : nil
      }
      row("  CPU per call: server / Redis (µs)") {
        $0.getState.count > index ? $0.getState[index].cost.map(Self.cpu) : nil
      }
    }
    for index in configurations.first?.throughput.indices ?? 0..<0 {
      let concurrency = configurations[0].throughput[index].concurrency
      row("5-step runs, \(concurrency) callers: runs/s", target: concurrency == 32 ? "≥ 2,500 / ≥ 3,500" : "") {
        $0.throughput.count > index ? Self.rate($0.throughput[index]) : nil
      }
      row("  p50 / p99", target: concurrency == 32 ? "p99 ≤ 10 ms" : "") {
        $0.throughput.count > index ? Self.latency($0.throughput[index].latency) : nil
      }
      row("  CPU per run: server / Redis (µs)", target: concurrency == 32 ? "≤ 300 / ≤ 300" : "") {
        $0.throughput.count > index ? $0.throughput[index].cost.map(Self.cpu) : nil
      }
      row("  EVALSHA per run: calls, µs in Redis") {
        $0.throughput.count > index ? $0.throughput[index].cost.map(Self.evalsha) : nil
      }
    }
    row("server RSS idle (start / after load)", target: "≤ 30 MB") {
      $0.memory.map { "\(Self.megabytes($0.idleBytes)) / \(Self.megabytes($0.idleAfterLoadBytes))" }
    }
    row("server RSS, runs in flight", target: "≤ 100 MB") {
      $0.memory.map { "\(Self.megabytes($0.inFlightBytes)) (\($0.runsInFlight) runs)" }
    }
    for index in configurations.first?.storage.indices ?? 0..<0 {
      let figure = configurations[0].storage[index]
      row("Redis bytes per run, \(figure.steps) steps × 2 KB artifacts", target: index == 0 ? "linear" : "") {
        $0.storage.count > index ? Self.storage($0.storage[index]) : nil
      }
    }
    if let fit = configurations.first.flatMap({ Self.storageFit($0.storage) }) {
      rows.append(
        ["  per step (fit 5→50) / model: artifact + record", fit]
          + Array(repeating: "", count: configurations.count - 1) + ["within 10%"])
    }

    return header() + "\n" + Self.render(rows)
  }

  /// `rows` as aligned columns, the first row a header underlined with dashes.
  static func render(_ rows: [[String]]) -> String {
    let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
    var text = ""
    for (number, row) in rows.enumerated() {
      text += row.enumerated().map { column, cell in
        cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
      }.joined(separator: "  ") + "\n"
      if number == 0 { text += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
    }
    return text
  }

  static func cpu(_ cost: Cost) -> String {
    String(format: "%.0f / %.0f", cost.serverCpuMicrosPerCall, cost.redisCpuMicrosPerCall)
  }

  static func evalsha(_ cost: Cost) -> String {
    String(format: "%.1f, %.0f", cost.evalshaPerCall, cost.evalshaMicrosPerCall)
  }

  private func header() -> String {
    machine.header(title: "Resumable benchmark")
      + "server (release build) + its embedded Redis + this load generator on one machine, Unix sockets\n\n"
  }

  static func micros(_ value: Double) -> String {
    if value >= 10_000 { return String(format: "%.1f ms", value / 1000) }
    if value >= 1000 { return String(format: "%.2f ms", value / 1000) }
    if value >= 100 { return String(format: "%.0f µs", value) }
    return String(format: "%.1f µs", value)
  }

  static func latency(_ summary: LatencySummary, p999: Bool = false) -> String {
    guard summary.count > 0 else { return "no samples" }
    var text = "\(micros(summary.p50Micros)) / \(micros(summary.p99Micros))"
    if p999 { text += " / \(micros(summary.p999Micros))" }
    return text
  }

  static func rate(_ load: Load) -> String {
    let errors = load.errors > 0 ? " (\(load.errors) errors)" : ""
    return String(format: "%.0f", load.perSecond) + errors
  }

  static func megabytes(_ bytes: Int) -> String {
    String(format: "%.1f MB", Double(bytes) / 1_048_576)
  }

  static func storage(_ figure: Storage) -> String {
    String(format: "%.0f B (%.0f B/step)", figure.bytesPerRun, figure.bytesPerRun / Double(figure.steps))
  }

  /// The slope from the smallest to the largest run, against the model
  /// "artifact bytes + the stored step record", and how far the middle run
  /// is from the line.
  static func storageFit(_ storage: [Storage]) -> String? {
    guard let first = storage.first, let last = storage.last, last.steps > first.steps else { return nil }
    let slope = (last.bytesPerRun - first.bytesPerRun) / Double(last.steps - first.steps)
    let model = Double(last.artifactBytesPerStep) + last.stepRecordBytes
    var text = String(format: "%.0f B / %.0f B (%+.1f%%)", slope, model, (slope / model - 1) * 100)
    if storage.count > 2 {
      let middle = storage[storage.count / 2]
      let predicted = first.bytesPerRun + slope * Double(middle.steps - first.steps)
      text += String(format: "; %d steps off the line by %+.1f%%", middle.steps, (middle.bytesPerRun / predicted - 1) * 100)
    }
    return text
  }

  /// The report as pretty-printed JSON.
  public func json() throws -> String { try prettyJSON(self) }

  /// Reads a report that `json()` wrote.
  public static func decode(json: String) throws -> BenchReport {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(BenchReport.self, from: Data(json.utf8))
  }
}

/// `value` as pretty-printed JSON with sorted keys, as `bench --json` writes
/// it: the keys are the properties' names in snake case (`p50_micros`).
func prettyJSON(_ value: some Encodable) throws -> String {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
  encoder.keyEncodingStrategy = .convertToSnakeCase
  return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// The figures of a `bench` subcommand that measures one thing on a server of its
/// own: printed as a table (under the `appendfsync` policy used) or as JSON.
public protocol OwnServerFigures: Encodable {
  func table(fsync: String) -> String
}

extension OwnServerFigures {
  /// The figures as pretty-printed JSON.
  public func json() throws -> String { try prettyJSON(self) }
}

extension BenchReport.MapFanOut: OwnServerFigures {
  /// The fan-out's figures alone (`resumable bench fan-out`), as text.
  public func table(fsync: String) -> String {
    var text = "map fan-out, appendfsync \(fsync), \(mapRun.count) runs of each, interleaved\n"
    text += String(
      format: "100 no-op steps in order:             %.0f steps/s (run p50 %@, p99 %@)\n", sequentialPerSecond,
      BenchReport.micros(sequentialRun.p50Micros), BenchReport.micros(sequentialRun.p99Micros))
    text += String(
      format: "map of 100 no-op items, 16 at once:   %.0f items/s (run p50 %@, p99 %@), %.2f× in order\n",
      mapPerSecond, BenchReport.micros(mapRun.p50Micros), BenchReport.micros(mapRun.p99Micros),
      mapPerSecond / max(sequentialPerSecond, 1))
    if let steps = sequentialCostPerStep, let items = mapCostPerItem {
      text += "CPU per step / per item, server / Redis (µs): \(BenchReport.cpu(steps)) / \(BenchReport.cpu(items))\n"
      text += "EVALSHA per step / per item, calls, µs: \(BenchReport.evalsha(steps)) / \(BenchReport.evalsha(items))\n"
    }
    return text
  }
}

extension BenchReport.WorkerOverhead: OwnServerFigures {
  /// The worker step overhead alone (`resumable bench workers`), as text.
  public func table(fsync: String) -> String {
    var text = "worker step overhead, appendfsync \(fsync), \(inProcessRun.count) runs of each, interleaved\n"
    text += "5 no-op steps in process, run p50 / p99:  \(BenchReport.latency(inProcessRun))\n"
    text += "  through a Swift worker, run p50 / p99:  \(BenchReport.latency(swiftWorkerRun))\n"
    text += "  Swift worker, per step p50:             \(BenchReport.micros(swiftPerStepP50Micros)) (target ≤ 150 µs)\n"
    guard let pythonWorkerRun, let pythonPerStepP50Micros else {
      return text + "  Python worker skipped: \(pythonSkipped ?? "")\n"
    }
    text += "  through a Python worker, run p50 / p99: \(BenchReport.latency(pythonWorkerRun))\n"
    text += "  Python worker, per step p50:            \(BenchReport.micros(pythonPerStepP50Micros)) (target ≤ 150 µs)\n"
    if let serverCPUPerStep {
      text += "server CPU per step, in process / Swift / Python worker: \(serverCPUPerStep)\n"
    }
    if let process = pythonWorkerProcessCpuPerStepMicros {
      text += "Python worker process CPU per step:     \(BenchReport.micros(process))\n"
    }
    return text
  }

  /// The server's CPU per step, in process / through the Swift worker / through the Python one.
  var serverCPUPerStep: String? {
    guard let inProcessServerCpuPerStepMicros, let swiftWorkerServerCpuPerStepMicros else { return nil }
    return [inProcessServerCpuPerStepMicros, swiftWorkerServerCpuPerStepMicros, pythonWorkerServerCpuPerStepMicros]
      .map { $0.map(BenchReport.micros) ?? "–" }.joined(separator: " / ")
  }
}
