import Foundation

/// Everything one `resumable bench` run measured; printed as a table, and
/// written as JSON with `--json`.
public struct BenchReport: Codable, Sendable {
  public var machine: MachineInfo
  /// One entry per `appendfsync` policy measured; the first is the full set.
  public var configurations: [ConfigurationFigures]

  public struct ConfigurationFigures: Codable, Sendable {
    /// The embedded Redis' `appendfsync`.
    public var fsync: String
    /// `PING` round trip from the benchmark to the same Redis, for scale.
    public var redisPing: LatencySummary
    /// The floor: one step commit (`RedisStateStore.commitStep`, the commit
    /// script) called from the benchmark straight on the same Redis.
    public var floorCommit: LatencySummary
    public var stepOverhead: StepOverhead
    public var resume: Resume?
    public var getState: [Load]
    public var throughput: [Load]
    public var memory: Memory?
    public var storage: [Storage]
    /// Only in the first (full) configuration.
    public var workerOverhead: WorkerOverhead?
    /// Only in the first (full) configuration.
    public var mapFanOut: MapFanOut?
  }

  /// 100 no-op items of a map (16 at once) against 100 no-op steps in list
  /// order, run after run, interleaved.
  public struct MapFanOut: Codable, Sendable {
    /// A run of 100 sequential steps, start to COMPLETED.
    public var sequentialRun: LatencySummary
    /// A run of one map step over 100 items.
    public var mapRun: LatencySummary
    /// Steps (items) committed per second, from the p50s.
    public var sequentialPerSecond: Double
    public var mapPerSecond: Double
    /// CPU of the server and of Redis, and Redis' scripts, per step of the
    /// measured sequential runs (nil in reports from before it was measured).
    public var sequentialCostPerStep: Cost?
    /// The same per item of the measured map runs.
    public var mapCostPerItem: Cost?
  }

  /// 5-step no-op runs, one after another: in-process `simulate` steps
  /// against the same steps run by a worker over the socket, interleaved.
  public struct WorkerOverhead: Codable, Sendable {
    /// 5 in-process no-op steps (`simulate`).
    public var inProcessRun: LatencySummary
    /// 5 no-op steps through a worker written on the Swift client library (in the bench process).
    public var swiftWorkerRun: LatencySummary
    /// 5 no-op steps through a Python worker process (the SDK's `Worker`); nil when skipped.
    public var pythonWorkerRun: LatencySummary?
    /// Why the Python worker was not measured, when it was not.
    public var pythonSkipped: String?
    /// (Swift worker run p50 − in-process run p50) / 5: what a worker adds to a step.
    public var swiftPerStepP50Micros: Double
    /// The same for the Python worker.
    public var pythonPerStepP50Micros: Double?
    /// The server's CPU time per step (`/proc/PID/stat` around each block,
    /// warm-up runs included): in process, through the Swift worker, through
    /// the Python worker. Nil in reports written before they were measured.
    public var inProcessServerCpuPerStepMicros: Double?
    public var swiftWorkerServerCpuPerStepMicros: Double?
    public var pythonWorkerServerCpuPerStepMicros: Double?
    /// The Python worker process's own CPU time per step.
    public var pythonWorkerProcessCpuPerStepMicros: Double?
  }

  /// Runs of 20 no-op steps, one after another.
  public struct StepOverhead: Codable, Sendable {
    /// A 20-step run's latency (start to COMPLETED answer) divided by 20.
    public var perStep: LatencySummary
    /// A 1-step run's latency: the fixed part of a run (create, release, RPC).
    public var oneStepRun: LatencySummary
    /// (p50 of a 20-step run − p50 of a 1-step run) / 19: what one more step costs.
    public var marginalPerStepP50Micros: Double
    /// perStep p50 / floor p50.
    public var ratioP50: Double
    /// perStep p99 / floor p99.
    public var ratioP99: Double
    /// marginal per step / floor p50.
    public var marginalRatioP50: Double
  }

  /// Resumes of runs FAILED at step 4 of 5 (no-op steps).
  public struct Resume: Codable, Sendable {
    /// `ResumeWorkflow` with `no_wait`: answered once the run is RUNNING
    /// again at step 4 (resume recorded, attempt begun, lease taken).
    public var answered: LatencySummary
    /// `ResumeWorkflow` waiting for the run to complete (steps 4 and 5 run).
    public var toCompletion: LatencySummary
  }

  /// A closed-loop load at one concurrency.
  public struct Load: Codable, Sendable {
    public var concurrency: Int
    public var perSecond: Double
    public var latency: LatencySummary
    public var errors: Int
    /// CPU and Redis script time per call, over the measured window.
    public var cost: Cost?
    /// The first failed call's error, when any failed.
    public var firstError: String?
  }

  /// What one call of a load cost, from the processes' CPU counters
  /// (`/proc/PID/stat`) and Redis' `INFO commandstats`.
  public struct Cost: Codable, Sendable {
    public var serverCpuMicrosPerCall: Double
    public var redisCpuMicrosPerCall: Double
    public var evalshaPerCall: Double
    public var evalshaMicrosPerCall: Double
  }

  public struct Memory: Codable, Sendable {
    /// Server RSS right after start-up.
    public var idleBytes: Int
    /// Server RSS at rest after the load phases.
    public var idleAfterLoadBytes: Int
    /// Server RSS with `runsInFlight` runs in flight (steps sleeping).
    public var inFlightBytes: Int
    public var runsInFlight: Int
    /// The server's own count of the runs it drives at that moment.
    public var runsDriven: Int?
  }

  /// Redis bytes of one completed run (`MEMORY USAGE` of each of its keys).
  public struct Storage: Codable, Sendable {
    public var steps: Int
    public var artifactBytesPerStep: Int
    public var bytesPerRun: Double
    /// The stored step record (JSON) of one step, in bytes.
    public var stepRecordBytes: Double
    /// Of `bytesPerRun`: the artifacts hash, the steps hash, the events stream, the run hash.
    public var artifactsKeyBytes: Double
    public var stepsKeyBytes: Double
    public var eventsKeyBytes: Double
    public var runKeyBytes: Double
  }
}

/// The machine the figures come from.
public struct MachineInfo: Codable, Sendable {
  public var cpuModel: String
  public var cores: Int
  public var kernel: String
  public var redisVersion: String
  /// `/proc/loadavg`'s 1-minute load when the run began and ended.
  public var loadBefore: Double
  public var loadAfter: Double
  public var date: String
  /// The commit measured (`git rev-parse --short HEAD` where the benchmark
  /// ran, `+dirty` with uncommitted changes), or "unknown".
  public var commit: String?

  static func current(redisVersion: String) -> MachineInfo {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model =
      cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
      .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" }
      ?? "unknown"
    var uts = utsname()
    uname(&uts)
    let release = withUnsafeBytes(of: uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let formatter = ISO8601DateFormatter()
    return MachineInfo(
      cpuModel: model, cores: ProcessInfo.processInfo.activeProcessorCount, kernel: "Linux \(release)",
      redisVersion: redisVersion, loadBefore: loadAverage(), loadAfter: 0, date: formatter.string(from: Date()),
      commit: commitID())
  }

  /// The current directory's git commit, marked `+dirty` when the tree has changes.
  static func commitID() -> String {
    func git(_ arguments: [String]) -> String? {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      process.arguments = ["git"] + arguments
      let pipe = Pipe()
      process.standardOutput = pipe
      process.standardError = FileHandle.nullDevice
      guard (try? process.run()) != nil else { return nil }
      let output = pipe.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      guard process.terminationStatus == 0 else { return nil }
      return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
    guard let head = git(["rev-parse", "--short", "HEAD"]), !head.isEmpty else { return "unknown" }
    let dirty = git(["status", "--porcelain", "--untracked-files=no"]).map { !$0.isEmpty } ?? false
    return head + (dirty ? "+dirty" : "")
  }

  /// The first lines of a printed report: what, when, which commit, the machine, its load.
  func header(title: String) -> String {
    """
    \(title), \(date), commit \(commit ?? "unknown")
    machine: \(cpuModel), \(cores) cores, \(kernel); Redis \(redisVersion)
    load average (1 min) before / after: \(String(format: "%.2f / %.2f", loadBefore, loadAfter))

    """
  }

  static func loadAverage() -> Double {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return text.split(separator: " ").first.flatMap { Double($0) } ?? 0
  }
}
