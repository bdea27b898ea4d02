extension RunRecord {
  /// A run's status.
  public enum Status: String, Hashable, Sendable, Codable, CaseIterable {
    case running = "RUNNING"
    case completed = "COMPLETED"
    case failed = "FAILED"
    case awaitingApproval = "AWAITING_APPROVAL"
    case cancelled = "CANCELLED"
    /// The next attempt would take the run past its budget (`on_budget: pause`):
    /// nothing runs until a person raises the budget or rejects the run.
    case awaitingBudget = "AWAITING_BUDGET"

    /// Whether the run can make no more progress by itself.
    public var isTerminal: Bool { self != .running }
  }
}

extension StepProgress {
  /// A step's status within a run.
  public enum Status: String, Hashable, Sendable, Codable, CaseIterable {
    /// Not reached yet.
    case pending = "PENDING"
    /// An attempt has begun and not ended (or its server died during it).
    case running = "RUNNING"
    /// Committed: the artifact is stored and the step never runs again in this run.
    case completed = "COMPLETED"
    /// The last attempt failed and the run stopped here; a resume retries it.
    case failed = "FAILED"
    /// An attempt failed and the next one waits for its backoff (or a rate
    /// limit's retry-after); `waitReason` says which.
    case retrying = "RETRYING"
    /// No attempt is begun: the step waits for its plugin's circuit breaker to
    /// let a probe through; `waitReason` says why.
    case waiting = "WAITING"
  }
}

/// The stored class of a step's last error (see `StepErrorClass`).
public enum FailureKind: String, Hashable, Sendable, Codable {
  case retryable
  case nonRetryable = "non_retryable"
  case rateLimited = "rate_limited"

  public init(_ errorClass: StepErrorClass) {
    switch errorClass {
    case .retryable: self = .retryable
    case .nonRetryable: self = .nonRetryable
    case .rateLimited: self = .rateLimited
    }
  }
}

/// The persisted record of one step of a run (stored as compact JSON; its
/// shape is part of the schema version, see `RunRecord.currentSchemaVersion`).
public struct StepProgress: Hashable, Sendable, Codable {
  public var status: StepProgress.Status
  /// Attempts begun in this run, including one interrupted by a crash.
  public var attempts: UInt32
  /// Usage summed over every attempt, failed ones included.
  public var usage: StepUsage
  /// The cost of the attempt that committed: what a restart from scratch would pay again.
  public var committedCostMicros: Int64
  /// The cost of this step that resumes did not pay again.
  public var savedMicros: Int64
  public var lastError: String?
  /// The class of `lastError`; nil when no attempt failed.
  public var lastErrorClass: FailureKind?
  public var startedAtMs: Int64
  public var finishedAtMs: Int64
  public var artifactBytes: UInt64
  /// Why the step waits (status `.retrying` or `.waiting`).
  public var waitReason: String?
  /// Unix milliseconds of the next attempt (or circuit probe) while the step waits; 0 otherwise.
  public var nextAttemptAtMs: Int64
  /// What the last attempt was given: its inputs' and history's sizes.
  public var given: GivenContext?
  /// A map step's number of items, once its list is known; nil for other steps.
  public var itemsTotal: Int?

  public init(
    status: StepProgress.Status = .pending, attempts: UInt32 = 0, usage: StepUsage = StepUsage(),
    committedCostMicros: Int64 = 0, savedMicros: Int64 = 0, lastError: String? = nil,
    lastErrorClass: FailureKind? = nil, startedAtMs: Int64 = 0, finishedAtMs: Int64 = 0,
    artifactBytes: UInt64 = 0, waitReason: String? = nil, nextAttemptAtMs: Int64 = 0,
    given: GivenContext? = nil, itemsTotal: Int? = nil
  ) {
    self.itemsTotal = itemsTotal
    self.status = status
    self.attempts = attempts
    self.usage = usage
    self.committedCostMicros = committedCostMicros
    self.savedMicros = savedMicros
    self.lastError = lastError
    self.lastErrorClass = lastErrorClass
    self.startedAtMs = startedAtMs
    self.finishedAtMs = finishedAtMs
    self.artifactBytes = artifactBytes
    self.waitReason = waitReason
    self.nextAttemptAtMs = nextAttemptAtMs
    self.given = given
  }

  /// Whether retrying can help with `lastError`.
  public var lastErrorRetryable: Bool { lastErrorClass.map { $0 != .nonRetryable } ?? false }

  /// This record with a new attempt begun at `nowMs`.
  public func beginningAttempt(at nowMs: Int64) -> StepProgress {
    var next = self
    next.status = .running
    next.attempts += 1
    next.startedAtMs = nowMs
    next.finishedAtMs = 0
    next.waitReason = nil
    next.nextAttemptAtMs = 0
    return next
  }
}

/// A run's money and tokens; money in integer micro-dollars. The token
/// counts are `StepUsage`'s, summed over every attempt.
public struct RunLedger: Hashable, Sendable {
  /// Everything paid, failed attempts included.
  public var spentMicros: Int64
  /// The cost of committed steps that resumes did not run again.
  public var savedByResumeMicros: Int64
  public var inputTokens: UInt64
  public var outputTokens: UInt64
  public var cachedInputTokens: UInt64
  public var cacheWriteTokens: UInt64

  public init(
    spentMicros: Int64 = 0, savedByResumeMicros: Int64 = 0, inputTokens: UInt64 = 0, outputTokens: UInt64 = 0,
    cachedInputTokens: UInt64 = 0, cacheWriteTokens: UInt64 = 0
  ) {
    self.spentMicros = spentMicros
    self.savedByResumeMicros = savedByResumeMicros
    self.inputTokens = inputTokens
    self.outputTokens = outputTokens
    self.cachedInputTokens = cachedInputTokens
    self.cacheWriteTokens = cacheWriteTokens
  }

  /// Adds an attempt's usage: its cost to the spend, its tokens to the counts.
  public mutating func charge(_ usage: StepUsage) {
    spentMicros += usage.costMicros
    inputTokens += usage.inputTokens
    outputTokens += usage.outputTokens
    cachedInputTokens += usage.cachedInputTokens
    cacheWriteTokens += usage.cacheWriteTokens
  }
}

/// A run as stored: what `StateStore.load` returns.
public struct RunRecord: Hashable, Sendable {
  /// The schema version the store writes. Version 2 stores a step's error
  /// class (not a retryable flag), its wait and what it was given, and the
  /// run's history; older runs are upgraded on read (`ResumableStore`'s
  /// registered upgrades), newer ones refused.
  public static let currentSchemaVersion: UInt32 = 2

  public var workflowID: String
  /// The snapshot of the definition the run started with.
  public var definition: WorkflowDefinition
  public var status: RunRecord.Status
  /// The index of the step the run is at (the step running, retrying or
  /// failed); equals the number of steps once the run is COMPLETED.
  public var cursor: Int
  /// One record per step of `definition`, in order.
  public var steps: [StepProgress]
  public var ledger: RunLedger
  /// The workflow's input, JSON.
  public var input: [UInt8]
  public var createdAtMs: Int64
  public var updatedAtMs: Int64
  /// When every key of the run expires; 0 for never.
  public var expiresAtMs: Int64
  public var resumes: UInt32
  /// Why the run failed, when it did.
  public var error: String?
  /// The last fencing token handed out for the run.
  public var fence: UInt64
  public var schemaVersion: UInt32
  /// Committed artifacts by step name, when they were asked for.
  public var artifacts: [String: [UInt8]]
  /// Messages in the run's history (after trimming to its cap).
  public var historyLength: Int
  /// The history, oldest first, when it was asked for.
  public var history: [HistoryEntry]
  /// The approval the run waits for (status AWAITING_APPROVAL).
  public var approval: PendingApproval? {
    get { approvalStorage?.approval }
    set { approvalStorage = newValue.map(ApprovalStorage.init) }
  }
  /// `approval`, out of line: a `PendingApproval` (with the step record and
  /// the output it may hold) is about 330 bytes, which every record would
  /// carry inline — the machine of every run in flight among them — while
  /// almost none waits for an approval.
  private var approvalStorage: ApprovalStorage?
  /// The step a person approved to run (`approval: before`), if any.
  public var approvedCursor: Int?
  /// The items of map steps that have begun: step name → item index → its record.
  public var items: [String: [Int: StepProgress]] = [:]
  /// What the run may spend, in micro-dollars (the start's budget, or the
  /// workflow's `budget_usd`, as raised since); nil: no budget.
  public var budgetMicros: Int64?

  public init(
    workflowID: String, definition: WorkflowDefinition, status: RunRecord.Status, cursor: Int,
    steps: [StepProgress], ledger: RunLedger, input: [UInt8], createdAtMs: Int64,
    updatedAtMs: Int64, expiresAtMs: Int64, resumes: UInt32 = 0, error: String? = nil,
    fence: UInt64, schemaVersion: UInt32 = RunRecord.currentSchemaVersion,
    artifacts: [String: [UInt8]] = [:], historyLength: Int = 0, history: [HistoryEntry] = []
  ) {
    self.historyLength = historyLength
    self.history = history
    self.workflowID = workflowID
    self.definition = definition
    self.status = status
    self.cursor = cursor
    self.steps = steps
    self.ledger = ledger
    self.input = input
    self.createdAtMs = createdAtMs
    self.updatedAtMs = updatedAtMs
    self.expiresAtMs = expiresAtMs
    self.resumes = resumes
    self.error = error
    self.fence = fence
    self.schemaVersion = schemaVersion
    self.artifacts = artifacts
  }

  /// The workflow's name.
  public var workflowName: String { definition.name }

  /// The map step and item index a field name `STEP[INDEX]` names, if it is one.
  public static func itemField(_ field: String) -> (step: String, index: Int)? {
    guard field.hasSuffix("]"), let open = field.lastIndex(of: "[") else { return nil }
    let digits = field[field.index(after: open)..<field.index(before: field.endIndex)]
    guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let index = Int(digits), index >= 0 else { return nil }
    return (String(field[..<open]), index)
  }

  /// The name of the step the run is at (the last step once completed).
  public var currentStepName: String {
    definition.steps[min(cursor, definition.steps.count - 1)].name
  }
}

extension RunRecord {
  /// What a write that charged `usage` did to the stored run: the ledger
  /// grows by it, and the run's update and expiry times are the write's.
  /// Keeps a runner's copy exactly what the store holds.
  mutating func charge(_ usage: StepUsage, at timing: WriteTiming) {
    ledger.charge(usage)
    updatedAtMs = timing.nowMs
    expiresAtMs = timing.nowMs + timing.ttlMs
  }
}

/// The storage of `RunRecord.approval`: compared and hashed by value.
private final class ApprovalStorage: Hashable, Sendable {
  let approval: PendingApproval

  init(_ approval: PendingApproval) { self.approval = approval }

  static func == (left: ApprovalStorage, right: ApprovalStorage) -> Bool { left.approval == right.approval }
  func hash(into hasher: inout Hasher) { hasher.combine(approval) }
}
