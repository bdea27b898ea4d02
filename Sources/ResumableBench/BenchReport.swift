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

    enum CodingKeys: String, CodingKey {
      case fsync
      case redisPing = "redis_ping"
      case floorCommit = "floor_commit"
      case stepOverhead = "step_overhead"
      case resume
      case getState = "get_state"
      case throughput
      case memory
      case storage
    }
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

    enum CodingKeys: String, CodingKey {
      case perStep = "per_step"
      case oneStepRun = "one_step_run"
      case marginalPerStepP50Micros = "marginal_per_step_p50_us"
      case ratioP50 = "ratio_p50"
      case ratioP99 = "ratio_p99"
      case marginalRatioP50 = "marginal_ratio_p50"
    }
  }

  /// Resumes of runs FAILED at step 4 of 5 (no-op steps).
  public struct Resume: Codable, Sendable {
    /// `ResumeWorkflow` with `no_wait`: answered once the run is RUNNING
    /// again at step 4 (resume recorded, attempt begun, lease taken).
    public var answered: LatencySummary
    /// `ResumeWorkflow` waiting for the run to complete (steps 4 and 5 run).
    public var toCompletion: LatencySummary

    enum CodingKeys: String, CodingKey {
      case answered
      case toCompletion = "to_completion"
    }
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

    enum CodingKeys: String, CodingKey {
      case concurrency
      case perSecond = "per_second"
      case latency
      case errors
      case cost
      case firstError = "first_error"
    }
  }

  /// What one call of a load cost, from the processes' CPU counters
  /// (`/proc/PID/stat`) and Redis' `INFO commandstats`.
  public struct Cost: Codable, Sendable {
    public var serverCPUMicrosPerCall: Double
    public var redisCPUMicrosPerCall: Double
    public var evalshaPerCall: Double
    public var evalshaMicrosPerCall: Double

    enum CodingKeys: String, CodingKey {
      case serverCPUMicrosPerCall = "server_cpu_us_per_call"
      case redisCPUMicrosPerCall = "redis_cpu_us_per_call"
      case evalshaPerCall = "evalsha_per_call"
      case evalshaMicrosPerCall = "evalsha_us_per_call"
    }
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

    enum CodingKeys: String, CodingKey {
      case idleBytes = "idle_bytes"
      case idleAfterLoadBytes = "idle_after_load_bytes"
      case inFlightBytes = "in_flight_bytes"
      case runsInFlight = "runs_in_flight"
      case runsDriven = "runs_driven"
    }
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

    enum CodingKeys: String, CodingKey {
      case steps
      case artifactBytesPerStep = "artifact_bytes_per_step"
      case bytesPerRun = "bytes_per_run"
      case stepRecordBytes = "step_record_bytes"
      case artifactsKeyBytes = "artifacts_key_bytes"
      case stepsKeyBytes = "steps_key_bytes"
      case eventsKeyBytes = "events_key_bytes"
      case runKeyBytes = "run_key_bytes"
    }
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

  enum CodingKeys: String, CodingKey {
    case cpuModel = "cpu_model"
    case cores
    case kernel
    case redisVersion = "redis_version"
    case loadBefore = "load_before"
    case loadAfter = "load_after"
    case date
    case commit
  }

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

  static func loadAverage() -> Double {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return text.split(separator: " ").first.flatMap { Double($0) } ?? 0
  }
}
