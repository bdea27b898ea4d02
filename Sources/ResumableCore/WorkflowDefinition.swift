import Foundation

/// A workflow: a name and an ordered list of steps.
///
/// Loaded from a definitions file (`DefinitionsFile`) or built in Swift. A run
/// stores a snapshot of the definition it started with (as JSON) and resumes
/// with that snapshot, so editing the file never changes a run in flight.
public struct WorkflowDefinition: Hashable, Sendable, Codable {
  /// The workflow's name, unique in a definitions file.
  public var name: String
  /// The steps, in execution order; names are unique.
  public var steps: [StepDefinition]
  /// The largest input a run accepts, in bytes; nil: the server's default.
  public var maxInputBytes: Int?
  /// How many history messages a run keeps (the oldest are trimmed); nil:
  /// the server's default.
  public var maxHistoryMessages: Int?
  /// Set (`parallel: true`): the steps form a DAG by their `inputs` and
  /// `after`, and ready steps run at once; nil: they run in list order.
  public var parallelism: Parallelism?
  /// `budget_usd`, in micro-dollars: what one run may spend (a start may
  /// override it); nil: no budget.
  public var budgetMicros: Int64?
  /// What a run does when its next attempt would take it past its budget (`on_budget`).
  public var onBudget: OnBudget
  /// `max_spend_per_hour_usd`, in micro-dollars: what the runs of this
  /// workflow may spend together in any hour, on every server; nil: no cap.
  public var maxSpendPerHourMicros: Int64?

  public init(
    name: String, steps: [StepDefinition], maxInputBytes: Int? = nil, maxHistoryMessages: Int? = nil,
    parallelism: Parallelism? = nil, budgetMicros: Int64? = nil, onBudget: OnBudget = .pause,
    maxSpendPerHourMicros: Int64? = nil
  ) {
    self.budgetMicros = budgetMicros
    self.onBudget = onBudget
    self.maxSpendPerHourMicros = maxSpendPerHourMicros
    self.name = name
    self.steps = steps
    self.maxInputBytes = maxInputBytes
    self.maxHistoryMessages = maxHistoryMessages
    self.parallelism = parallelism
  }

  /// How a parallel workflow runs its ready steps.
  public struct Parallelism: Hashable, Sendable, Codable {
    /// The default of `max_parallel`.
    public static let defaultMaximum = 8
    /// At most this many steps run at once (`max_parallel`).
    public var maxParallel: Int
    /// What a step failing out of its retries does to the others (`on_failure`).
    public var onFailure: OnFailure

    public init(maxParallel: Int = Self.defaultMaximum, onFailure: OnFailure = .finish) {
      self.maxParallel = maxParallel
      self.onFailure = onFailure
    }
  }

  /// What a run does when its next attempt would take it past its budget.
  public enum OnBudget: String, Hashable, Sendable, Codable {
    /// The attempt does not start; the run becomes AWAITING_BUDGET until a
    /// person raises the budget (or rejects the run).
    case pause
    /// The run fails at once, non-retryable, naming the budget and the projection.
    case fail
  }

  private enum CodingKeys: String, CodingKey {
    case name, steps, maxInputBytes, maxHistoryMessages, parallelism, budgetMicros, onBudget, maxSpendPerHourMicros
  }

  /// Decodes a snapshot; the budget keys are absent from snapshots stored before they existed.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      name: try container.decode(String.self, forKey: .name),
      steps: try container.decode([StepDefinition].self, forKey: .steps),
      maxInputBytes: try container.decodeIfPresent(Int.self, forKey: .maxInputBytes),
      maxHistoryMessages: try container.decodeIfPresent(Int.self, forKey: .maxHistoryMessages),
      parallelism: try container.decodeIfPresent(Parallelism.self, forKey: .parallelism),
      budgetMicros: try container.decodeIfPresent(Int64.self, forKey: .budgetMicros),
      onBudget: try container.decodeIfPresent(OnBudget.self, forKey: .onBudget) ?? .pause,
      maxSpendPerHourMicros: try container.decodeIfPresent(Int64.self, forKey: .maxSpendPerHourMicros))
  }

  /// What a step failing out of its retries does to the steps running beside it.
  public enum OnFailure: String, Hashable, Sendable, Codable {
    /// They finish and commit; no new step starts; the run then FAILS.
    case finish
    /// They are cancelled, and nothing of theirs is committed; the run FAILS.
    case cancel
  }

  /// The step at `index` and every step that waits for it, directly or not.
  public func downstream(of index: Int) -> Set<Int> {
    var found: Set<Int> = [index]
    var changed = true
    while changed {
      changed = false
      for (candidate, step) in steps.enumerated() where !found.contains(candidate) {
        if dependencies(of: step).contains(where: { stepIndex(named: $0).map(found.contains) ?? false }) {
          found.insert(candidate)
          changed = true
        }
      }
    }
    return found
  }

  /// The names of the steps `step` waits for: its inputs (but `input`) and its `after`.
  public func dependencies(of step: StepDefinition) -> [String] {
    step.inputs.filter { $0 != StepDefinition.workflowInputName } + step.after
  }

  /// The index of the step named `name`, if any.
  public func stepIndex(named name: String) -> Int? {
    steps.firstIndex { $0.name == name }
  }
}

/// One step of a workflow.
public struct StepDefinition: Hashable, Sendable, Codable {
  /// The name reserved for the workflow's own input in `inputs`.
  public static let workflowInputName = "input"

  /// Unique in its workflow; also the name later steps use in `inputs`.
  public var name: String
  /// The registered plugin that executes the step.
  public var plugin: String
  /// The plugin's configuration (a JSON object).
  public var config: JSONValue
  /// What the step reads: `input` (the workflow's input) and names of earlier steps.
  public var inputs: [String]
  /// How failed attempts are retried.
  public var retry: RetryPolicy
  /// An attempt that runs longer is cancelled and counts as a retryable failure.
  public var timeoutMilliseconds: Int?
  /// How much of the run's history the step receives (default none).
  public var history: HistoryPolicy
  /// The largest artifact (and appended history) the step may produce, in
  /// bytes; nil: the server's default. Over it the step fails, not retried.
  public var maxArtifactBytes: Int?
  /// Whether a person approves the step, and when (nil: never asked).
  public var approval: ApprovalPolicy?
  /// How long a run waits for that approval (nil: the server's default).
  public var approvalTimeoutMilliseconds: Int?
  /// `worker` steps: an attempt whose worker sends no heartbeat for this long fails (retryable).
  public var heartbeatTimeoutMilliseconds: Int?
  /// `worker` steps: how long the step may wait for a worker (none connected,
  /// or no free slot) before the attempt fails (retryable); nil: no bound.
  public var scheduleToStartMilliseconds: Int?
  /// Parallel workflows: steps this one starts after, though it reads nothing of them.
  public var after: [String]
  /// Parallel workflows: run the step once per element of a JSON list.
  public var map: MapSpec?
  /// `estimated_cost_usd`, in micro-dollars: what one attempt is expected to
  /// cost, for budgets and spend caps, when the plugin cannot estimate it
  /// itself (`exec`, `http`, `worker`); nil: the plugin's estimate, or 0.
  public var estimatedCostMicros: Int64?
  /// `limits`: the names of the shared limits an attempt must pass.
  public var limits: [String]

  /// `map: {over: SOURCE, max_parallel: N, max_items: M}`.
  public struct MapSpec: Hashable, Sendable, Codable {
    /// The default of `max_items`.
    public static let defaultMaximumItems = 1000
    /// `input.FIELD`, `STEP` or `STEP.FIELD`.
    public var over: String
    /// At most this many items at once (nil: the workflow's `max_parallel`).
    public var maxParallel: Int?
    /// A longer list fails the step at once, non-retryable.
    public var maxItems: Int

    public init(over: String, maxParallel: Int? = nil, maxItems: Int = Self.defaultMaximumItems) {
      self.over = over
      self.maxParallel = maxParallel
      self.maxItems = maxItems
    }

    /// Where the list comes from: the workflow's input or a step's artifact,
    /// and the field of it (nil: the whole value).
    public var source: (step: String?, field: String?) {
      let parts = over.split(separator: ".", maxSplits: 1).map(String.init)
      let head = parts.first ?? over
      let field = parts.count > 1 ? parts[1] : nil
      return head == StepDefinition.workflowInputName ? (nil, field) : (head, field)
    }
  }

  /// The name of item `index` of a map step (its record, artifact and keys).
  public func itemName(_ index: Int) -> String { "\(name)[\(index)]" }

  public init(
    name: String, plugin: String, config: JSONValue = .object([:]), inputs: [String] = [],
    retry: RetryPolicy = RetryPolicy(), timeoutMilliseconds: Int? = nil,
    history: HistoryPolicy = .none, maxArtifactBytes: Int? = nil, approval: ApprovalPolicy? = nil,
    approvalTimeoutMilliseconds: Int? = nil, heartbeatTimeoutMilliseconds: Int? = nil,
    scheduleToStartMilliseconds: Int? = nil, after: [String] = [], map: MapSpec? = nil,
    estimatedCostMicros: Int64? = nil, limits: [String] = []
  ) {
    self.estimatedCostMicros = estimatedCostMicros
    self.limits = limits
    self.after = after
    self.map = map
    self.heartbeatTimeoutMilliseconds = heartbeatTimeoutMilliseconds
    self.scheduleToStartMilliseconds = scheduleToStartMilliseconds
    self.approval = approval
    self.approvalTimeoutMilliseconds = approvalTimeoutMilliseconds
    self.name = name
    self.plugin = plugin
    self.config = config
    self.inputs = inputs
    self.retry = retry
    self.timeoutMilliseconds = timeoutMilliseconds
    self.history = history
    self.maxArtifactBytes = maxArtifactBytes
  }

  private enum CodingKeys: String, CodingKey {
    case name, plugin, config, inputs, retry, timeoutMilliseconds, history, maxArtifactBytes, approval,
      approvalTimeoutMilliseconds, heartbeatTimeoutMilliseconds, scheduleToStartMilliseconds, after, map,
      estimatedCostMicros, limits
  }

  /// Decodes a snapshot; `history` is absent from snapshots stored before it existed.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      name: try container.decode(String.self, forKey: .name),
      plugin: try container.decode(String.self, forKey: .plugin),
      config: try container.decode(JSONValue.self, forKey: .config),
      inputs: try container.decode([String].self, forKey: .inputs),
      retry: try container.decode(RetryPolicy.self, forKey: .retry),
      timeoutMilliseconds: try container.decodeIfPresent(Int.self, forKey: .timeoutMilliseconds),
      history: try container.decodeIfPresent(HistoryPolicy.self, forKey: .history) ?? .none,
      maxArtifactBytes: try container.decodeIfPresent(Int.self, forKey: .maxArtifactBytes),
      approval: try container.decodeIfPresent(ApprovalPolicy.self, forKey: .approval),
      approvalTimeoutMilliseconds: try container.decodeIfPresent(Int.self, forKey: .approvalTimeoutMilliseconds),
      heartbeatTimeoutMilliseconds: try container.decodeIfPresent(Int.self, forKey: .heartbeatTimeoutMilliseconds),
      scheduleToStartMilliseconds: try container.decodeIfPresent(Int.self, forKey: .scheduleToStartMilliseconds),
      after: try container.decodeIfPresent([String].self, forKey: .after) ?? [],
      map: try container.decodeIfPresent(MapSpec.self, forKey: .map),
      estimatedCostMicros: try container.decodeIfPresent(Int64.self, forKey: .estimatedCostMicros),
      limits: try container.decodeIfPresent([String].self, forKey: .limits) ?? [])
  }
}

/// When a step needs a person's approval.
public enum ApprovalPolicy: Hashable, Sendable, Codable {
  /// Before it runs (`approval: before`).
  case before
  /// After it ran, when its artifact's confidence is below the threshold
  /// (`approval: {below_confidence: 0.7}`): the artifact waits, uncommitted.
  case belowConfidence(Double)
}

/// How a step's failed attempts are retried: exponential backoff with full jitter.
///
/// `maxAttempts` bounds the attempts of one drive of the run (a start or a
/// resume): resuming a failed run grants the failed step a fresh budget.
public struct RetryPolicy: Hashable, Sendable, Codable {
  public var maxAttempts: Int
  public var initialBackoffMilliseconds: Int
  public var maxBackoffMilliseconds: Int
  public var multiplier: Double

  public init(
    maxAttempts: Int = 3, initialBackoffMilliseconds: Int = 100,
    maxBackoffMilliseconds: Int = 5000, multiplier: Double = 2.0
  ) {
    self.maxAttempts = maxAttempts
    self.initialBackoffMilliseconds = initialBackoffMilliseconds
    self.maxBackoffMilliseconds = maxBackoffMilliseconds
    self.multiplier = multiplier
  }

  /// The longest wait before attempt `attempt + 1` after `attempt` failed
  /// (1-based): `initial × multiplier^(attempt-1)`, capped at the maximum.
  public func backoffCap(afterAttempt attempt: Int) -> Int {
    let exponent = Double(max(0, attempt - 1))
    let raw = Double(initialBackoffMilliseconds) * pow(multiplier, exponent)
    return Int(min(Double(maxBackoffMilliseconds), raw))
  }

  /// A wait drawn uniformly from `0...backoffCap(afterAttempt:)` (full
  /// jitter), and never shorter than `retryAfter` (a rate limit's): the
  /// retry-after is honoured as given, even past the cap.
  public func backoff(
    afterAttempt attempt: Int, retryAfter: Duration? = nil,
    using generator: inout some RandomNumberGenerator
  ) -> Duration {
    let cap = backoffCap(afterAttempt: attempt)
    let jittered = Duration.milliseconds(cap > 0 ? Int.random(in: 0...cap, using: &generator) : 0)
    guard let retryAfter else { return jittered }
    return max(jittered, retryAfter)
  }

  /// `backoff(afterAttempt:retryAfter:using:)` with the system's generator.
  public func backoff(afterAttempt attempt: Int, retryAfter: Duration? = nil) -> Duration {
    var generator = SystemRandomNumberGenerator()
    return backoff(afterAttempt: attempt, retryAfter: retryAfter, using: &generator)
  }
}
