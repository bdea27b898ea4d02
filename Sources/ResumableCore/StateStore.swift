import Synchronization

/// Where runs live. `RedisStateStore` (module ResumableStore) is the product's.
///
/// Every write is atomic and fenced: it names the fencing token of the lease
/// the writer holds and the step it expects the run to be at, and changes
/// nothing when either is stale (`StoreError.Kind.fenced` / `.conflict`).
/// Each write also refreshes the expiry of every key of the run together.
public protocol StateStore: Sendable, RunEventLog, FlowControlStore {
  /// Creates a run with its first step's first attempt begun, and takes its
  /// lease (fencing token 1), unless a run with that id exists.
  func create(_ run: NewRun) async throws(StoreError) -> CreateOutcome

  /// Reads a run; nil when no run has that id (or it expired). A run stored
  /// with an older schema version is upgraded; a newer one is refused whole
  /// (`unsupportedSchema`).
  /// - Parameter includeInput: false leaves the workflow's input out (`input`
  ///   is empty): what a reader of the run's state never shows, and may be large.
  func load(workflowID: String, includeArtifacts: Bool, includeHistory: Bool, includeInput: Bool) async throws(StoreError)
    -> RunRecord?

  /// Reads the newest `newest` messages of the run's history (all when nil), oldest first.
  func history(workflowID: String, newest: Int?) async throws(StoreError) -> [HistoryEntry]

  /// Persists a step that waits without an attempt begun (its plugin's
  /// circuit is open): its record, and an event.
  func recordWait(_ wait: StepWait) async throws(StoreError)

  /// Reads the committed artifacts of the named steps (missing ones are absent).
  func artifacts(workflowID: String, steps: [String]) async throws(StoreError) -> [String: [UInt8]]

  /// Takes the run's lease when nobody holds it, with a new, larger fencing token.
  func acquireLease(workflowID: String, ttl: Duration) async throws(StoreError) -> LeaseOutcome

  /// Extends the lease, and the life of every key of the run to `runTTL` from
  /// now (a step that runs longer than the TTL never has its run expire under
  /// it); false when the token no longer owns the run.
  func renewLease(workflowID: String, fence: UInt64, ttl: Duration, runTTL: Duration) async throws(StoreError) -> Bool

  /// Gives the lease up, if `fence` still holds it.
  ///
  /// - Parameter runEnded: the run has reached a terminal status (COMPLETED,
  ///   FAILED, CANCELLED): it leaves the recovery index too, while the lease
  ///   is still held (so no resume can slip in between).
  func releaseLease(workflowID: String, fence: UInt64, runEnded: Bool) async throws(StoreError)

  /// Runs whose recovery check is due, oldest first, at most `limit`.
  ///
  /// Every run that may need a runner — every RUNNING run — is in the
  /// recovery index from its creation (or resume) until it ends; an entry
  /// falls due once the run's lease may have lapsed. Reading the due entries
  /// costs O(log n + limit), never a scan of all runs. The index may also
  /// hold runs that have ended or expired: `claimForRecovery` clears those.
  func recoveryCandidates(limit: Int) async throws(StoreError) -> [RecoveryCandidate]

  /// Checks a candidate: takes its lease (a new fencing token) when the run
  /// is RUNNING and nobody holds the lease; otherwise reschedules or clears
  /// its index entry. A run awaiting an approval whose deadline has passed
  /// fails here, and is kept for `failedRetention`.
  func claimForRecovery(_ candidate: RecoveryCandidate, lease: Duration, failedRetention: Duration) async throws(StoreError)
    -> RecoveryClaim

  /// Asks for a person's approval (lease held): the run becomes AWAITING_APPROVAL and
  /// the lease is given up.
  func requestApproval(_ request: ApprovalRequest) async throws(StoreError)

  /// Answers an approval request: exactly one answer per token wins.
  func answerApproval(_ answer: ApprovalAnswer, lease: Duration) async throws(StoreError) -> ApprovalOutcome

  /// Cancels a run that has not ended: CANCELLED, its fencing token bumped (a runner
  /// still at work can write nothing more) and its lease dropped.
  func cancel(_ cancel: RunCancel) async throws(StoreError) -> CancelOutcome

  /// Starts a re-run of a COMPLETED or FAILED run from a step (lease held).
  func rerun(_ rerun: RerunBegin) async throws(StoreError)

  /// A page of runs, newest first, without scanning the keyspace.
  func listRuns(_ query: RunQuery) async throws(StoreError) -> RunPage

  /// One bounded pass over the list of runs (what `listRuns` reads): checks
  /// at most `limit` entries from position `from` (oldest first) and removes
  /// those whose run has expired.
  /// - Returns: where the next pass starts (0 after the last entry), and how
  ///   many entries this pass removed.
  func trimRunList(from position: Int, limit: Int) async throws(StoreError) -> (next: Int, removed: Int)

  /// One round trip to the store: how long it took.
  func ping() async throws(StoreError) -> Duration

  /// Postpones a candidate's next recovery check (a run this server drives).
  func deferRecovery(workflowID: String, by delay: Duration) async throws(StoreError)

  /// Resumes a run in one atomic step, if this store can: checks that it is
  /// FAILED (or RUNNING with its lease lapsed), that it needs no plugin
  /// outside `request.plugins` from its cursor on, takes its lease with a new
  /// fencing token, records the resume (what it saves, every committed
  /// record's `savedMicros`) and begins a new attempt of the step at the
  /// cursor; then returns the run as `load` reads it.
  /// Anything else writes nothing and says why. Two racing resumes: exactly
  /// one gets `.resumed`, the other finds the lease held. A repeat of the
  /// operation (`timing.operation`) returns the first outcome.
  ///
  /// A store without a one-step resume answers `.general` (its default):
  /// the caller then takes the lease, reads and begins itself.
  func resume(_ request: ResumeRequest) async throws(StoreError) -> ResumeOutcome

  /// Persists the start of an attempt (and, on a resume, the resume itself;
  /// a resume rewrites every committed step's record, so it also raises the
  /// run's stored schema version to the current one).
  func beginAttempt(_ begin: AttemptBegin) async throws(StoreError)

  /// Commits a step: artifact, step record, cursor, ledger, status, event and
  /// expiry together or not at all. Optionally begins the next step's attempt
  /// in the same write.
  func commitStep(_ commit: StepCommit) async throws(StoreError)

  /// Persists a failed attempt: its record, its cost, and the run's failure
  /// when no attempt is left.
  func recordFailure(_ failure: AttemptFailure) async throws(StoreError)

  /// Ends a parallel run whose steps have all committed: COMPLETED (fenced,
  /// its event, expiry) in one write.
  func completeParallelRun(_ end: ParallelRunEnd) async throws(StoreError)

  /// Stores a workflow defined in code as its name's latest version, shared by
  /// every server on the store. The same content again changes nothing.
  /// - Returns: the version (1 for a name's first registration, one more each
  ///   time its content changed), and false for `changed` when this content
  ///   was the latest version already.
  func registerWorkflow(_ definition: WorkflowDefinition) async throws(StoreError) -> (version: UInt32, changed: Bool)

  /// The latest registered version of the workflow `name`, if any.
  func registeredWorkflow(named name: String) async throws(StoreError) -> WorkflowDefinition?
}


extension StateStore {
  /// Reads a run without its history.
  public func load(workflowID: String, includeArtifacts: Bool) async throws(StoreError) -> RunRecord? {
    try await load(workflowID: workflowID, includeArtifacts: includeArtifacts, includeHistory: false)
  }

  /// Reads a run with its input.
  public func load(workflowID: String, includeArtifacts: Bool, includeHistory: Bool) async throws(StoreError) -> RunRecord? {
    try await load(
      workflowID: workflowID, includeArtifacts: includeArtifacts, includeHistory: includeHistory, includeInput: true)
  }
}

extension StateStore {
  /// No one-step resume: the run as it is, for the caller's general path.
  public func resume(_ request: ResumeRequest) async throws(StoreError) -> ResumeOutcome {
    guard let record = try await load(workflowID: request.workflowID, includeArtifacts: false) else { return .notFound }
    return .general(record)
  }
}

/// A resume for `StateStore.resume`.
public struct ResumeRequest: Hashable, Sendable {
  public var workflowID: String
  /// The plugins the resuming server has: a run whose steps from its cursor
  /// on need another one is left alone (`.missingPlugin`).
  public var plugins: Set<String>
  /// The write's clock and expiries; `leaseMs` is the lease taken.
  public var timing: WriteTiming

  public init(workflowID: String, plugins: Set<String>, timing: WriteTiming) {
    self.workflowID = workflowID
    self.plugins = plugins
    self.timing = timing
  }
}

/// What `StateStore.resume` did.
public enum ResumeOutcome: Hashable, Sendable {
  /// Resumed: the lease is held with `fence`, the resume is recorded and an
  /// attempt of the step at the cursor is begun; `record` is the run after it.
  /// - Parameters:
  ///   - savedMicros: what the committed steps the resume does not run again cost.
  ///   - fromLapsedLease: the run was RUNNING (its runner stopped), not FAILED.
  case resumed(RunRecord, fence: UInt64, savedMicros: Int64, fromLapsedLease: Bool)
  /// Nothing written: a runner holds the run's lease.
  case held(RunRecord)
  /// Nothing written: the run is neither FAILED nor RUNNING.
  case ended(RunRecord)
  /// Nothing written: the run needs `plugin` from its cursor on, which the caller lacks.
  case missingPlugin(RunRecord, plugin: String)
  /// Nothing written: this store does not resume this run in one step (a
  /// record in an older stored shape, say); the caller takes the general
  /// path: the lease (`acquireLease`), a read, `beginAttempt`.
  case general(RunRecord)
  /// No run has that id.
  case notFound
}

/// Timing shared by every write: the clock and the expiry to set.
public struct WriteTiming: Hashable, Sendable {
  /// Unix milliseconds of the write.
  public var nowMs: Int64
  /// How long every key of the run lives after this write.
  public var ttlMs: Int64
  /// How long the writer's lease lasts after this write.
  public var leaseMs: Int64
  /// The write's operation id: unique per write, and the same across the
  /// retries of that write (they reuse this value). The store keeps the last
  /// one applied to a run with its outcome, so a repeat of a write whose
  /// reply was lost changes nothing and returns the first outcome.
  public var operation: String

  /// - Parameter operation: a new unique id unless given (tests repeat one on purpose).
  public init(nowMs: Int64, ttlMs: Int64, leaseMs: Int64, operation: String = WriteTiming.newOperation()) {
    self.nowMs = nowMs
    self.ttlMs = ttlMs
    self.leaseMs = leaseMs
    self.operation = operation
  }

  /// A process-unique, practically globally unique operation id: a random
  /// prefix drawn once per process, then a counter.
  public static func newOperation() -> String {
    let sequence = operationCounter.wrappingAdd(1, ordering: .relaxed).newValue
    return operationPrefix + String(sequence, radix: 36)
  }

  private static let operationPrefix: String = {
    var generator = SystemRandomNumberGenerator()
    return String(generator.next() as UInt64, radix: 36) + "."
  }()
  private static let operationCounter = Atomic<UInt64>(0)
}

/// A run to create.
public struct NewRun: Hashable, Sendable {
  public var workflowID: String
  public var definition: WorkflowDefinition
  public var input: [UInt8]
  /// The first step's record, with its first attempt begun.
  public var firstStep: StepProgress
  public var timing: WriteTiming
  /// The run's budget in micro-dollars; nil: none.
  public var budgetMicros: Int64?

  public init(
    workflowID: String, definition: WorkflowDefinition, input: [UInt8], firstStep: StepProgress, timing: WriteTiming,
    budgetMicros: Int64? = nil
  ) {
    self.budgetMicros = budgetMicros
    self.workflowID = workflowID
    self.definition = definition
    self.input = input
    self.firstStep = firstStep
    self.timing = timing
  }
}

/// What `create` did.
public enum CreateOutcome: Hashable, Sendable {
  /// Created, and the lease taken with this fencing token.
  case created(fence: UInt64)
  /// A run with that id exists; nothing was written.
  case exists
}

/// What `acquireLease` found.
public enum LeaseOutcome: Hashable, Sendable {
  case acquired(fence: UInt64)
  /// Another runner holds the lease.
  case held
  case notFound
}

/// An entry of the recovery index: a run to check.
public struct RecoveryCandidate: Hashable, Sendable {
  public var workflowID: String
  /// The entry's due time as the store wrote it (milliseconds since the
  /// epoch). The store clears an entry only while it still has this value,
  /// so an entry rewritten meanwhile (by a resume) is kept.
  public var dueAtMs: Int64

  public init(workflowID: String, dueAtMs: Int64) {
    self.workflowID = workflowID
    self.dueAtMs = dueAtMs
  }
}

/// What `claimForRecovery` found.
public enum RecoveryClaim: Hashable, Sendable {
  /// The run is RUNNING and its lease had lapsed: it is ours, with this token.
  case acquired(fence: UInt64)
  /// A runner holds the lease; checked again when it may have lapsed.
  case held
  /// The run has ended (nothing to recover); its entry is cleared.
  case ended(RunRecord.Status)
  /// No such run (it expired); its entry is cleared.
  case gone
}

/// A resume recorded with the attempt it begins.
public struct ResumeMark: Hashable, Sendable {
  /// The cost of the committed steps this resume does not run again.
  public var savedMicros: Int64
  /// The committed steps' records, with their `savedMicros` updated.
  public var updatedSteps: [String: StepProgress]

  public init(savedMicros: Int64, updatedSteps: [String: StepProgress]) {
    self.savedMicros = savedMicros
    self.updatedSteps = updatedSteps
  }
}

/// The start of an attempt.
public struct AttemptBegin: Hashable, Sendable {
  public var workflowID: String
  public var fence: UInt64
  /// The step index the run must be at.
  public var cursor: Int
  public var stepName: String
  /// The step's record with the attempt begun.
  public var step: StepProgress
  /// Set when this attempt starts a resume.
  public var resume: ResumeMark?
  public var timing: WriteTiming

  public init(workflowID: String, fence: UInt64, cursor: Int, stepName: String, step: StepProgress, resume: ResumeMark?, timing: WriteTiming) {
    self.workflowID = workflowID
    self.fence = fence
    self.cursor = cursor
    self.stepName = stepName
    self.step = step
    self.resume = resume
    self.timing = timing
  }
}

/// The end of a parallel run (`StateStore.completeParallelRun`).
public struct ParallelRunEnd: Hashable, Sendable {
  public var workflowID: String
  public var fence: UInt64
  /// The workflow's step count: the cursor of a completed run.
  public var stepCount: Int
  public var timing: WriteTiming

  public init(workflowID: String, fence: UInt64, stepCount: Int, timing: WriteTiming) {
    self.workflowID = workflowID
    self.fence = fence
    self.stepCount = stepCount
    self.timing = timing
  }
}

/// A step's commit.
public struct StepCommit: Hashable, Sendable {
  /// The `cursor` of a parallel run's branch write: any step, wherever the
  /// run's cursor is (also for begins, failures and waits).
  public static let branch = -1

  public var workflowID: String
  public var fence: UInt64
  /// The committed step's index; the run must be at it (`StepCommit.branch`:
  /// a parallel run's branch, `branchCursor` says where the run's cursor is now).
  public var cursor: Int
  /// A branch commit: the first step not committed, in list order (the
  /// stored cursor only moves forward).
  public var branchCursor: Int?
  public var stepName: String
  public var artifact: [UInt8]
  /// The committed step's final record.
  public var step: StepProgress
  /// The attempt's usage, added to the run's ledger.
  public var usage: StepUsage
  /// The next step with its attempt begun; nil when this was the last step
  /// (the run becomes COMPLETED).
  public var next: (name: String, step: StepProgress)?
  public var timing: WriteTiming
  /// Messages the step appends to the run's history (appended, never rewritten).
  public var history: [HistoryEntry]
  /// How many history messages the run keeps; the oldest beyond are trimmed.
  public var maxHistoryMessages: Int

  public init(
    workflowID: String, fence: UInt64, cursor: Int, stepName: String, artifact: [UInt8],
    step: StepProgress, usage: StepUsage, next: (name: String, step: StepProgress)?, timing: WriteTiming,
    history: [HistoryEntry] = [], maxHistoryMessages: Int = 1000, branchCursor: Int? = nil
  ) {
    self.branchCursor = branchCursor
    self.history = history
    self.maxHistoryMessages = maxHistoryMessages
    self.workflowID = workflowID
    self.fence = fence
    self.cursor = cursor
    self.stepName = stepName
    self.artifact = artifact
    self.step = step
    self.usage = usage
    self.next = next
    self.timing = timing
  }

  public static func == (lhs: StepCommit, rhs: StepCommit) -> Bool {
    lhs.workflowID == rhs.workflowID && lhs.fence == rhs.fence && lhs.cursor == rhs.cursor
      && lhs.stepName == rhs.stepName && lhs.artifact == rhs.artifact && lhs.step == rhs.step
      && lhs.usage == rhs.usage && lhs.next?.name == rhs.next?.name
      && lhs.next?.step == rhs.next?.step && lhs.timing == rhs.timing && lhs.history == rhs.history
      && lhs.maxHistoryMessages == rhs.maxHistoryMessages && lhs.branchCursor == rhs.branchCursor
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(workflowID)
    hasher.combine(fence)
    hasher.combine(cursor)
  }
}

/// A step that waits with no attempt begun.
public struct StepWait: Hashable, Sendable {
  public var workflowID: String
  public var fence: UInt64
  /// The step index the run must be at.
  public var cursor: Int
  public var stepName: String
  /// The step's record: status `.waiting`, with its reason.
  public var step: StepProgress
  public var timing: WriteTiming

  public init(workflowID: String, fence: UInt64, cursor: Int, stepName: String, step: StepProgress, timing: WriteTiming) {
    self.workflowID = workflowID
    self.fence = fence
    self.cursor = cursor
    self.stepName = stepName
    self.step = step
    self.timing = timing
  }
}

/// A failed attempt to persist.
public struct AttemptFailure: Hashable, Sendable {
  public var workflowID: String
  public var fence: UInt64
  public var cursor: Int
  public var stepName: String
  /// The step's record after the failure (`.retrying` or `.failed`).
  public var step: StepProgress
  /// The failed attempt's usage, added to the run's ledger.
  public var usage: StepUsage
  /// Set when no attempt is left: the run becomes FAILED with this error.
  public var runError: String?
  public var timing: WriteTiming

  public init(workflowID: String, fence: UInt64, cursor: Int, stepName: String, step: StepProgress, usage: StepUsage, runError: String?, timing: WriteTiming) {
    self.workflowID = workflowID
    self.fence = fence
    self.cursor = cursor
    self.stepName = stepName
    self.step = step
    self.usage = usage
    self.runError = runError
    self.timing = timing
  }
}

/// A store operation that failed.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
  /// What went wrong, for the caller to decide.
  public enum Kind: Hashable, Sendable {
    /// The store cannot be reached; the write may or may not have happened.
    case unavailable
    /// The writer's fencing token is stale: another runner owns the run.
    case fenced
    /// The run is not at the expected step (or not in a writable status).
    case conflict
    /// No run has that id.
    case notFound
    /// The stored run was written by a newer, unknown schema version.
    case unsupportedSchema
    /// The stored run cannot be read.
    case corrupt
  }

  public var kind: Kind
  public var message: String

  public init(_ kind: Kind, _ message: String) {
    self.kind = kind
    self.message = message
  }

  public var description: String { message }
}
