import Foundation

/// `simulate`: a stand-in for an LLM call, for demos, tests and benchmarks.
///
/// Configuration (all optional):
/// - `latency_ms`: how long an attempt takes (default 0);
/// - `input_tokens`, `output_tokens`, `cost_usd`: the usage each attempt reports;
/// - `artifact_bytes`: the size of the JSON artifact it produces (at least
///   its small fixed JSON);
/// - `fail_attempts`: the first N attempts of this step in a run fail with a
///   retryable error, counted from the persisted attempt number, so it holds
///   across resumes and restarts;
/// - `fail_permanently`: every attempt fails with a non-retryable error;
/// - `record`: a file path; each execution appends `workflow_id step attempt`
///   as one line when it starts, so people and tests see exactly what ran
///   (an execution interrupted by a crash is recorded too).
public struct SimulatePlugin: StepPlugin {
  /// The registered name.
  public static let name = "simulate"

  public init() {}

  struct Settings {
    var latencyMilliseconds = 0
    var usage = StepUsage()
    var artifactBytes = 0
    var failAttempts = 0
    var failPermanently = false
    var record: String?

    init(_ config: JSONValue) throws(PluginConfigError) {
      guard case .object(let members) = config else {
        throw PluginConfigError("simulate's config must be a mapping")
      }
      for (key, value) in members {
        switch key {
        case "latency_ms": latencyMilliseconds = try Self.count(value, key)
        case "input_tokens": usage.inputTokens = UInt64(try Self.count(value, key))
        case "output_tokens": usage.outputTokens = UInt64(try Self.count(value, key))
        case "artifact_bytes": artifactBytes = try Self.count(value, key)
        case "fail_attempts": failAttempts = try Self.count(value, key)
        case "cost_usd":
          guard let dollars = value.numberValue, dollars >= 0, dollars < 1e9 else {
            throw PluginConfigError("'cost_usd' must be a number ≥ 0")
          }
          usage.costMicros = Int64((dollars * 1_000_000).rounded())
        case "fail_permanently":
          guard let flag = value.boolValue else {
            throw PluginConfigError("'fail_permanently' must be true or false")
          }
          failPermanently = flag
        case "record":
          guard let path = value.stringValue, !path.isEmpty else {
            throw PluginConfigError("'record' must be a file path")
          }
          record = path
        default:
          throw PluginConfigError(
            "unknown key '\(key)' (allowed: artifact_bytes, cost_usd, fail_attempts, fail_permanently, input_tokens, latency_ms, output_tokens, record)"
          )
        }
      }
    }

    static func count(_ value: JSONValue, _ key: String) throws(PluginConfigError) -> Int {
      guard let number = value.numberValue, number >= 0, number.rounded() == number, number <= 1e12 else {
        throw PluginConfigError("'\(key)' must be a whole number ≥ 0")
      }
      return Int(number)
    }
  }

  public func validate(config: JSONValue) throws(PluginConfigError) {
    _ = try Settings(config)
  }

  public func execute(_ context: StepContext) async throws -> StepOutput {
    let settings: Settings
    do {
      settings = try Settings(context.config)
    } catch {
      throw StepFailure("simulate: \(error.message)", retryable: false)
    }
    if let record = settings.record {
      try Self.append(line: "\(context.workflowID) \(context.stepName) \(context.attempt)\n", to: record)
    }
    if settings.latencyMilliseconds > 0 {
      try await Task.sleep(for: .milliseconds(settings.latencyMilliseconds))
    }
    if settings.failPermanently {
      throw StepFailure(
        "simulated permanent failure of step '\(context.stepName)'", retryable: false,
        usage: settings.usage)
    }
    if context.attempt <= settings.failAttempts {
      throw StepFailure(
        "simulated transient failure (attempt \(context.attempt) of the first \(settings.failAttempts) that fail)",
        retryable: true, usage: settings.usage)
    }
    return StepOutput(artifact: Self.artifact(context, size: settings.artifactBytes), usage: settings.usage)
  }

  /// `{"attempt":…,"inputs":[…],"padding":"…","step":…}`, padded to `size` bytes when larger.
  static func artifact(_ context: StepContext, size: Int) -> [UInt8] {
    func build(_ padding: Int) -> [UInt8] {
      JSONValue.object([
        "step": .string(context.stepName),
        "attempt": .number(Double(context.attempt)),
        "inputs": .array(context.inputs.keys.sorted().map { .string($0) }),
        "padding": .string(String(repeating: "x", count: padding)),
      ]).serialized()
    }
    let base = build(0)
    return size > base.count ? build(size - base.count) : base
  }

  /// Appends one line with a single `write` on an `O_APPEND` descriptor, so
  /// concurrent executions never interleave within a line. A short local
  /// write; acceptable on the cooperative pool for a test and demo plugin.
  static func append(line: String, to path: String) throws {
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw StepFailure("simulate: cannot open record file \(path): errno \(errno)", retryable: false)
    }
    defer { close(fd) }
    let bytes = Array(line.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else {
      throw StepFailure("simulate: cannot write record file \(path): errno \(errno)", retryable: false)
    }
  }
}
