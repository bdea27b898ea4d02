/// The store operations behind operating runs: cancel, re-run from a step, list, health.
/// Part of `StateStore` (declared there); the value types are here.

/// A cancellation to write.
public struct RunCancel: Hashable, Sendable {
  public var workflowID: String
  /// Recorded as the run's error.
  public var reason: String
  /// `ttlMs` is the retention of a cancelled run.
  public var timing: WriteTiming

  public init(workflowID: String, reason: String, timing: WriteTiming) {
    self.workflowID = workflowID
    self.reason = reason
    self.timing = timing
  }
}

/// What `cancel` did.
public enum CancelOutcome: Hashable, Sendable {
  /// Cancelled; the run had this status.
  case cancelled(previous: RunRecord.Status)
  /// Nothing written: the run had ended already (COMPLETED or CANCELLED).
  case ended(RunRecord.Status)
  case notFound
}

/// A re-run from a step, written with the lease held: the artifacts of the step and
/// the later ones are discarded, the step's next attempt begins.
public struct RerunBegin: Hashable, Sendable {
  public var workflowID: String
  public var fence: UInt64
  /// The step to run again.
  public var cursor: Int
  /// The artifacts to discard (the step at the cursor and the later ones).
  public var discarded: [String]
  /// Step records to write, by name: the earlier committed ones (with what the re-run
  /// saved), the one at the cursor (its attempt begun), the later ones (reset).
  public var steps: [String: StepProgress]
  /// What the committed steps kept saved.
  public var savedMicros: Int64
  public var timing: WriteTiming

  public init(
    workflowID: String, fence: UInt64, cursor: Int, discarded: [String], steps: [String: StepProgress],
    savedMicros: Int64, timing: WriteTiming
  ) {
    self.workflowID = workflowID
    self.fence = fence
    self.cursor = cursor
    self.discarded = discarded
    self.steps = steps
    self.savedMicros = savedMicros
    self.timing = timing
  }
}

/// Which runs to list.
public struct RunQuery: Hashable, Sendable {
  public var status: RunRecord.Status?
  public var workflow: String?
  /// At most this many runs.
  public var limit: Int
  /// Where the previous page ended (`RunPage.nextCursor`).
  public var cursor: String?

  public init(status: RunRecord.Status? = nil, workflow: String? = nil, limit: Int = 50, cursor: String? = nil) {
    self.status = status
    self.workflow = workflow
    self.limit = limit
    self.cursor = cursor
  }
}

/// What a list shows of a run.
public struct RunListEntry: Hashable, Sendable {
  public var workflowID: String
  public var workflowName: String
  public var status: RunRecord.Status
  public var cursor: Int
  public var stepCount: Int
  public var currentStepName: String
  public var createdAtMs: Int64
  public var updatedAtMs: Int64
  public var ledger: RunLedger
  public var error: String?

  public init(
    workflowID: String, workflowName: String, status: RunRecord.Status, cursor: Int, stepCount: Int,
    currentStepName: String, createdAtMs: Int64, updatedAtMs: Int64, ledger: RunLedger, error: String?
  ) {
    self.workflowID = workflowID
    self.workflowName = workflowName
    self.status = status
    self.cursor = cursor
    self.stepCount = stepCount
    self.currentStepName = currentStepName
    self.createdAtMs = createdAtMs
    self.updatedAtMs = updatedAtMs
    self.ledger = ledger
    self.error = error
  }
}

/// A page of runs, newest first.
public struct RunPage: Hashable, Sendable {
  public var runs: [RunListEntry]
  /// Pass as `RunQuery.cursor` for the next page; nil when there is none.
  public var nextCursor: String?

  public init(runs: [RunListEntry], nextCursor: String?) {
    self.runs = runs
    self.nextCursor = nextCursor
  }
}
