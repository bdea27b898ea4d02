import Foundation

/// `simulate`: a stand-in for an LLM call, for demos, tests and benchmarks.
///
/// Configuration (all optional):
/// - `latency_ms`: how long an attempt takes (default 0);
/// - `input_tokens`, `output_tokens`, `cached_input_tokens`, `cache_write_tokens`, `cost_usd`:
///   the usage each attempt reports (`StepUsage`);
/// - `confidence`: the confidence (0 to 1) its output reports, for `approval: {below_confidence: t}`;
/// - `artifact_bytes`: the size of the JSON artifact it produces (at least
///   its small fixed JSON);
/// - `fail_attempts`: the first N attempts of this step in a run fail with a
///   retryable error, counted from the persisted attempt number, so it holds
///   across resumes and restarts;
/// - `fail_permanently`: every attempt fails with a non-retryable error;
/// - `rate_limit_attempts`, `retry_after_ms`: the first N attempts (after
///   any `fail_attempts`) fail rate-limited, asking to retry after the given
///   milliseconds;
/// - `fail_while_file_exists`: a file path; every attempt fails with a
///   retryable error while it exists (an outage a test or demo can end);
/// - `append_history`: a list of `{role, content}` messages the step appends
///   to the run's history when it commits;
/// - `fail_items`: a list of item indexes of a map step: the first attempt of
///   each of those items fails, retryable (counted from the persisted attempt);
/// - `record`: a file path; each execution appends `workflow_id step attempt`
///   as one line when it starts (an item's step is `step[index]`), so people
///   and tests see exactly what ran (an execution interrupted by a crash is
///   recorded too).
public struct SimulatePlugin: StepPlugin {
  /// The registered name.
  public static let name = "simulate"

  public init() {}

  struct Settings: PluginSettings {
    var latencyMilliseconds = 0
    var usage = StepUsage()
    var artifactBytes = 0
    var failAttempts = 0
    var failPermanently = false
    var record: String?
    var rateLimitAttempts = 0
    var retryAfterMilliseconds = 1000
    var failWhileFileExists: String?
    var appendHistory: [HistoryEntry] = []
    var confidence: Double?
    var failItems: Set<Int> = []

    init(_ config: JSONValue) throws(PluginConfigError) {
      for (key, value) in try config.configMembers(otherwise: "simulate's config must be a mapping") {
        switch key {
        case "latency_ms": latencyMilliseconds = try Self.count(value, key)
        case "input_tokens": usage.inputTokens = UInt64(try Self.count(value, key))
        case "output_tokens": usage.outputTokens = UInt64(try Self.count(value, key))
        case "cached_input_tokens": usage.cachedInputTokens = UInt64(try Self.count(value, key))
        case "cache_write_tokens": usage.cacheWriteTokens = UInt64(try Self.count(value, key))
        case "artifact_bytes": artifactBytes = try Self.count(value, key)
        case "fail_attempts": failAttempts = try Self.count(value, key)
        case "cost_usd":
          guard let micros = Money.micros(fromDollars: value.numberValue) else {
            throw PluginConfigError("'cost_usd' must be a finite number ≥ 0")
          }
          usage.costMicros = micros
        case "fail_permanently":
          guard let flag = value.boolValue else {
            throw PluginConfigError("'fail_permanently' must be true or false")
          }
          failPermanently = flag
        case "record":
          record = try value.nonEmptyText(key, "a file path")
        case "confidence":
          guard let number = value.numberValue, number >= 0, number <= 1 else {
            throw PluginConfigError("'confidence' must be a number from 0 to 1")
          }
          confidence = number
        case "fail_items":
          guard let items = value.arrayValue else { throw PluginConfigError("'fail_items' must be a list of item indexes") }
          for item in items { failItems.insert(try Self.count(item, "fail_items")) }
        case "rate_limit_attempts": rateLimitAttempts = try Self.count(value, key)
        case "retry_after_ms": retryAfterMilliseconds = try Self.count(value, key)
        case "fail_while_file_exists":
          failWhileFileExists = try value.nonEmptyText(key, "a file path")
        case "append_history":
          guard let items = value.arrayValue else {
            throw PluginConfigError("'append_history' must be a list of {role, content}")
          }
          appendHistory = try items.map { item throws(PluginConfigError) in
            guard let role = item["role"]?.stringValue, let content = item["content"]?.stringValue,
              item.objectValue?.count == 2
            else {
              throw PluginConfigError("each 'append_history' message must be {role: TEXT, content: TEXT}")
            }
            return HistoryEntry(role: role, content: content)
          }
        default:
          throw .unknownKey(key, allowed: Self.keys)
        }
      }
    }

    static let keys = [
      "append_history", "artifact_bytes", "cache_write_tokens", "cached_input_tokens", "confidence", "cost_usd",
      "fail_attempts", "fail_items", "fail_permanently",
      "fail_while_file_exists", "input_tokens", "latency_ms", "output_tokens", "rate_limit_attempts",
      "record", "retry_after_ms",
    ]

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

  /// What every attempt reports: its `cost_usd` and tokens.
  public func estimate(_ context: StepContext) -> AttemptEstimate? {
    guard let usage = try? Settings(context.config).usage else { return nil }
    return AttemptEstimate(costMicros: usage.costMicros, tokens: usage.totalTokens)
  }

  /// Its settings are read, and its line recorded, before the sleep, and read
  /// again after it, each in a sync function: the frame of a run sleeping here
  /// (a run in flight in the benchmarks) holds none of them. Reading them once
  /// costs more than it saves: an async frame holds every branch's temporaries,
  /// so carrying the settings (or the outcome, in an enum) out of the first
  /// read made the frame 400 to 928 bytes, and a run in flight 1 KB larger
  /// (heaptrack); the second read walks the step's few config members again.
  public func execute(_ context: StepContext) async throws -> StepOutput {
    let latency = try Self.started(context)
    if latency > 0 {
      try await Task.sleep(for: .milliseconds(latency))
    }
    return try Self.outcome(context)
  }

  /// Records the attempt's line (`record`); returns how long it sleeps, in milliseconds.
  @inline(never)
  private static func started(_ context: StepContext) throws -> Int {
    let settings = try Settings.of(context, plugin: name)
    if let record = settings.record {
      try append(line: "\(context.workflowID) \(context.stepName) \(context.attempt)\n", to: record)
    }
    return settings.latencyMilliseconds
  }

  /// What the attempt ends with, after its sleep.
  @inline(never)
  private static func outcome(_ context: StepContext) throws -> StepOutput {
    let settings = try Settings.of(context, plugin: name)
    if settings.failPermanently {
      throw StepFailure(
        "simulated permanent failure of step '\(context.stepName)'", retryable: false,
        usage: settings.usage)
    }
    if context.attempt == 1, let item = RunRecord.itemField(context.stepName)?.index, settings.failItems.contains(item) {
      throw StepFailure(
        "simulated transient failure of item \(item) (its first attempt)", retryable: true, usage: settings.usage)
    }
    if context.attempt <= settings.failAttempts {
      throw StepFailure(
        "simulated transient failure (attempt \(context.attempt) of the first \(settings.failAttempts) that fail)",
        retryable: true, usage: settings.usage)
    }
    if context.attempt <= settings.failAttempts + settings.rateLimitAttempts {
      throw StepFailure.rateLimited(
        "simulated rate limit (attempt \(context.attempt)); retry after \(settings.retryAfterMilliseconds) ms",
        retryAfter: .milliseconds(settings.retryAfterMilliseconds), usage: settings.usage)
    }
    if let path = settings.failWhileFileExists, access(path, F_OK) == 0 {
      throw StepFailure("simulated outage: \(path) exists", retryable: true, usage: settings.usage)
    }
    return StepOutput(
      artifact: Self.artifact(context, size: settings.artifactBytes), usage: settings.usage,
      history: settings.appendHistory, confidence: settings.confidence)
  }

  /// `{"attempt":…,"inputs":[…],"padding":"…","step":…}` (with `"history":[…]`,
  /// the contents of the history it was given, when it was given some),
  /// padded to `size` bytes when larger.
  ///
  /// Written member by member, keys in sorted order (the bytes `JSONValue`'s
  /// `serialized()` gives the same object): it is the benchmarks' no-op step,
  /// so it builds no `JSONValue` and no dictionary.
  static func artifact(_ context: StepContext, size: Int) -> [UInt8] {
    let inputs = context.inputs.keys.sorted()
    func build(_ padding: Int) -> [UInt8] {
      var out: [UInt8] = []
      out.reserveCapacity(64 + padding)
      out.append(contentsOf: #"{"attempt":"#.utf8)
      JSONWriter.write(Double(context.attempt), into: &out)
      if !context.history.isEmpty {
        out.append(contentsOf: #","history":["#.utf8)
        for (index, entry) in context.history.enumerated() {
          if index > 0 { out.append(UInt8(ascii: ",")) }
          JSONWriter.write(entry.content, escapingSlashes: false, into: &out)
        }
        out.append(UInt8(ascii: "]"))
      }
      out.append(contentsOf: #","inputs":["#.utf8)
      for (index, name) in inputs.enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        JSONWriter.write(name, escapingSlashes: false, into: &out)
      }
      out.append(contentsOf: #"],"padding":""#.utf8)
      out.append(contentsOf: repeatElement(UInt8(ascii: "x"), count: padding))
      out.append(contentsOf: #"","step":"#.utf8)
      JSONWriter.write(context.stepName, escapingSlashes: false, into: &out)
      out.append(UInt8(ascii: "}"))
      return out
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
