/// A step implementation, registered by name in a `PluginRegistry`.
///
/// The runner calls `execute` once per attempt. A plugin returns the step's
/// artifact and the usage the attempt incurred (and, optionally, messages to
/// append to the run's history), or throws: a `StepFailure` says whether a
/// retry can help (retryable, non-retryable, or rate-limited with a
/// retry-after); any other error counts as retryable, and
/// its text reaches the run's state only as a generic message (the detail
/// goes to the log).
///
/// - Important: `execute` runs on one of the server's event loops (the run's
///   driver prefers one, so that its Redis round trips need no thread hop):
///   never block a thread in it; use async APIs, and move blocking or long
///   CPU work off the loop (a `NIOThreadPool`, a subprocess). Honour task
///   cancellation: a step timeout or a shutdown past its grace period cancels
///   the task.
public protocol StepPlugin: Sendable {
  /// Checks a step's `config` when the definitions are loaded, so a bad
  /// configuration stops the server at start-up rather than a run later.
  func validate(config: JSONValue) throws(PluginConfigError)

  /// Runs one attempt of a step.
  func execute(_ context: StepContext) async throws -> StepOutput

  /// Whether an attempt of the step named `stepName`, with `config`, could
  /// start now. While it cannot, the step waits — WAITING, with the reason —
  /// and spends no attempt; the runner asks again every 100 ms.
  func readiness(stepName: String, config: JSONValue) -> StepReadiness

  /// What the attempt `context` describes is expected to cost, asked before
  /// it starts when a budget, a spend cap or a token limit needs it; nil: the
  /// plugin cannot tell (the step's `estimated_cost_usd`, or nothing, is used).
  func estimate(_ context: StepContext) -> AttemptEstimate?
}

/// What an attempt is expected to use, before it runs.
public struct AttemptEstimate: Hashable, Sendable {
  /// Its cost, in micro-dollars.
  public var costMicros: Int64
  /// Its tokens, input and output together.
  public var tokens: UInt64

  public init(costMicros: Int64 = 0, tokens: UInt64 = 0) {
    self.costMicros = costMicros
    self.tokens = tokens
  }
}

extension StepPlugin {
  /// Accepts any configuration.
  public func validate(config: JSONValue) throws(PluginConfigError) {}

  /// Always ready.
  public func readiness(stepName: String, config: JSONValue) -> StepReadiness { .ready }

  /// Cannot tell.
  public func estimate(_ context: StepContext) -> AttemptEstimate? { nil }
}

/// Whether a plugin can start an attempt now.
public enum StepReadiness: Hashable, Sendable {
  case ready
  /// Not now, for `reason` (shown as the step's wait reason).
  case unavailable(reason: String)
}

/// What a plugin is given for one attempt.
public struct StepContext: Sendable {
  /// The run's id.
  public var workflowID: String
  /// The workflow's name.
  public var workflowName: String
  /// The step's name.
  public var stepName: String
  /// The step's position in the workflow, from 0.
  public var stepIndex: Int
  /// The attempt number within the run, from 1; it grows across resumes and restarts.
  public var attempt: Int
  /// The step's configuration from the definition.
  public var config: JSONValue
  /// The step's declared inputs and nothing else: `input` (the workflow's
  /// input) and the artifacts of the earlier steps it names, as stored bytes.
  public var inputs: [String: [UInt8]]
  /// When the attempt times out, if the step has a timeout.
  public var deadline: ContinuousClock.Instant?
  /// The run's history as the step's history policy lets through (oldest
  /// first); empty under the default policy `none`.
  public var history: [HistoryEntry]
  /// `deadline` as Unix milliseconds (for a process elsewhere), if the step has a timeout.
  public var deadlineUnixMilliseconds: Int64?
  /// The step key `heartbeat_timeout_ms`: a worker that stops heartbeating
  /// this long fails the attempt.
  public var heartbeatTimeout: Duration?
  /// The step key `schedule_to_start_ms`: how long the attempt may wait for a worker.
  public var scheduleToStart: Duration?

  public init(
    workflowID: String, workflowName: String, stepName: String, stepIndex: Int, attempt: Int,
    config: JSONValue, inputs: [String: [UInt8]], deadline: ContinuousClock.Instant?,
    history: [HistoryEntry] = []
  ) {
    self.history = history
    self.workflowID = workflowID
    self.workflowName = workflowName
    self.stepName = stepName
    self.stepIndex = stepIndex
    self.attempt = attempt
    self.config = config
    self.inputs = inputs
    self.deadline = deadline
  }

  /// `workflow_id/step/attempt`: unique per attempt, stable if the same
  /// attempt is seen twice, so a plugin can deduplicate side effects.
  public var idempotencyKey: String { "\(workflowID)/\(stepName)/\(attempt)" }

  /// `workflow_id/step`: the same for every attempt and every resume of the
  /// step, for side effects that must happen once.
  public var stepKey: String { "\(workflowID)/\(stepName)" }

  /// A declared input parsed as JSON (nil when the step did not declare it).
  /// - Throws: `StepFailure` (non-retryable) when the stored bytes are not JSON.
  public func jsonInput(_ name: String) throws -> JSONValue? {
    guard let bytes = inputs[name] else { return nil }
    do {
      return try JSONValue(parsing: bytes)
    } catch {
      throw StepFailure(
        "input '\(name)' is not JSON: \(error.message)", retryable: false)
    }
  }
}

/// What a successful attempt produces.
public struct StepOutput: Sendable {
  /// The step's processed output, stored once and given to later steps that
  /// declare it. JSON by default.
  public var artifact: [UInt8]
  /// What the attempt cost.
  public var usage: StepUsage
  /// Messages to append to the run's history when the step commits (never
  /// when it fails): stored by appending, the oldest trimmed past the cap.
  public var history: [HistoryEntry]

  /// How sure the plugin is of the artifact, from 0 to 1, if it says: a step with
  /// `approval: {below_confidence: t}` asks a person when it is below `t`.
  public var confidence: Double?

  public init(artifact: [UInt8], usage: StepUsage = StepUsage(), history: [HistoryEntry] = [], confidence: Double? = nil) {
    self.artifact = artifact
    self.usage = usage
    self.history = history
    self.confidence = confidence
  }
}

/// What a failed attempt says about retrying.
public enum StepErrorClass: Hashable, Sendable {
  /// Another attempt can succeed; retried after an exponential backoff with
  /// full jitter. Also the class of any error that says nothing.
  case retryable
  /// Retrying cannot help: the run fails at once (a resume may still retry).
  case nonRetryable
  /// The service is rate-limited: retried no sooner than `retryAfter`.
  case rateLimited(retryAfter: Duration)

  /// Whether another attempt can succeed.
  public var isRetryable: Bool { self != .nonRetryable }
}

/// A failed attempt, saying whether a retry can help and what the attempt cost.
public struct StepFailure: Error, Sendable, CustomStringConvertible {
  /// A message a person can act on; it is stored in the run's state.
  public var message: String
  /// Whether and when another attempt may help.
  public var errorClass: StepErrorClass
  /// What the failed attempt cost: money spent is spent.
  public var usage: StepUsage

  public init(_ message: String, class errorClass: StepErrorClass, usage: StepUsage = StepUsage()) {
    self.message = message
    self.errorClass = errorClass
    self.usage = usage
  }

  public init(_ message: String, retryable: Bool, usage: StepUsage = StepUsage()) {
    self.init(message, class: retryable ? .retryable : .nonRetryable, usage: usage)
  }

  /// A rate-limited attempt: retried no sooner than `retryAfter`.
  public static func rateLimited(_ message: String, retryAfter: Duration, usage: StepUsage = StepUsage()) -> StepFailure {
    StepFailure(message, class: .rateLimited(retryAfter: retryAfter), usage: usage)
  }

  /// Whether another attempt can succeed.
  public var retryable: Bool { errorClass.isRetryable }

  public var description: String { message }
}

/// A plugin's settings, parsed from a step's `config`: the same parse checks the
/// definitions at load time (`validate`) and reads them for each attempt.
public protocol PluginSettings {
  init(_ config: JSONValue) throws(PluginConfigError)
}

extension PluginSettings {
  /// The settings of an attempt's step. They were checked when the definitions loaded,
  /// so this fails only for a run whose stored definition no longer parses: a
  /// non-retryable failure naming the plugin.
  public static func of(_ context: StepContext, plugin: String) throws(StepFailure) -> Self {
    do {
      return try Self(context.config)
    } catch {
      throw StepFailure("\(plugin): \(error.message)", retryable: false)
    }
  }
}

/// A step configuration a plugin refuses.
public struct PluginConfigError: Error, Hashable, Sendable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }

  /// A key the plugin does not know, naming the ones it does.
  public static func unknownKey(_ key: String, allowed: [String]) -> PluginConfigError {
    PluginConfigError("unknown key '\(key)' (allowed: \(allowed.sorted().joined(separator: ", ")))")
  }
}

/// The readings every plugin's settings share.
extension JSONValue {
  /// The members of a mapping `config`, in key order (so the first error is
  /// the same every time).
  /// - Throws: `PluginConfigError(notMapping)` when this is not a mapping.
  public func configMembers(otherwise notMapping: String) throws(PluginConfigError) -> [(key: String, value: JSONValue)] {
    guard case .object(let members) = self else { throw PluginConfigError(notMapping) }
    return members.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
  }

  /// This value as a non-empty string.
  /// - Throws: `PluginConfigError` "'KEY' must be WHAT".
  public func nonEmptyText(_ key: String, _ what: String = "a non-empty string") throws(PluginConfigError) -> String {
    guard let text = stringValue, !text.isEmpty else { throw PluginConfigError("'\(key)' must be \(what)") }
    return text
  }
}

/// Tokens and money of one attempt; money in integer micro-dollars.
///
/// The four token counts are disjoint, each priced once: `inputTokens` are
/// the input tokens read at the full input price (none of them from a prompt
/// cache), `cachedInputTokens` those read from a provider's prompt cache,
/// `cacheWriteTokens` those written to it. A prompt's size is their sum.
public struct StepUsage: Hashable, Sendable, Codable {
  /// Input tokens read at the full input price (not from a prompt cache).
  public var inputTokens: UInt64
  public var outputTokens: UInt64
  /// Input tokens read from a provider's prompt cache.
  public var cachedInputTokens: UInt64
  /// Input tokens written to a provider's prompt cache.
  public var cacheWriteTokens: UInt64
  public var costMicros: Int64

  public init(
    inputTokens: UInt64 = 0, outputTokens: UInt64 = 0, cachedInputTokens: UInt64 = 0, cacheWriteTokens: UInt64 = 0,
    costMicros: Int64 = 0
  ) {
    self.inputTokens = inputTokens
    self.outputTokens = outputTokens
    self.cachedInputTokens = cachedInputTokens
    self.cacheWriteTokens = cacheWriteTokens
    self.costMicros = costMicros
  }

  /// Every token of the attempt: input (cached, written to a cache or not) and output,
  /// what a provider's tokens-per-minute limit counts.
  public var totalTokens: UInt64 { inputTokens &+ outputTokens &+ cachedInputTokens &+ cacheWriteTokens }

  /// Sums two usages.
  public static func + (lhs: StepUsage, rhs: StepUsage) -> StepUsage {
    StepUsage(
      inputTokens: lhs.inputTokens &+ rhs.inputTokens,
      outputTokens: lhs.outputTokens &+ rhs.outputTokens,
      cachedInputTokens: lhs.cachedInputTokens &+ rhs.cachedInputTokens,
      cacheWriteTokens: lhs.cacheWriteTokens &+ rhs.cacheWriteTokens,
      costMicros: lhs.costMicros &+ rhs.costMicros)
  }

  private enum CodingKeys: String, CodingKey {
    case inputTokens, outputTokens, cachedInputTokens, cacheWriteTokens, costMicros
  }

  /// Reads records written before the cache counts existed (they are 0 there).
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    inputTokens = try container.decode(UInt64.self, forKey: .inputTokens)
    outputTokens = try container.decode(UInt64.self, forKey: .outputTokens)
    cachedInputTokens = try container.decodeIfPresent(UInt64.self, forKey: .cachedInputTokens) ?? 0
    cacheWriteTokens = try container.decodeIfPresent(UInt64.self, forKey: .cacheWriteTokens) ?? 0
    costMicros = try container.decode(Int64.self, forKey: .costMicros)
  }

  /// Writes the cache counts only when not 0: a step without a prompt cache
  /// stores the record it stored before they existed.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(inputTokens, forKey: .inputTokens)
    try container.encode(outputTokens, forKey: .outputTokens)
    if cachedInputTokens != 0 { try container.encode(cachedInputTokens, forKey: .cachedInputTokens) }
    if cacheWriteTokens != 0 { try container.encode(cacheWriteTokens, forKey: .cacheWriteTokens) }
    try container.encode(costMicros, forKey: .costMicros)
  }
}
