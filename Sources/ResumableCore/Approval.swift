/// A step waiting for a person: stored with a run that is AWAITING_APPROVAL.
public struct PendingApproval: Hashable, Sendable {
  public enum Kind: String, Hashable, Sendable {
    /// The step asks before it runs.
    case before
    /// The step ran; its artifact scored below the threshold and waits, uncommitted.
    case lowConfidence = "low_confidence"
  }

  /// The output a low-confidence step produced, committed if it is approved.
  public struct HeldOutput: Hashable, Sendable {
    public var artifact: [UInt8]
    public var history: [HistoryEntry]
    /// The step's record as it will be committed (completed, with its usage).
    public var step: StepProgress

    public init(artifact: [UInt8], history: [HistoryEntry], step: StepProgress) {
      self.artifact = artifact
      self.history = history
      self.step = step
    }
  }

  public var stepName: String
  public var cursor: Int
  /// One-time: the first answer with it wins.
  public var token: String
  public var kind: Kind
  public var confidence: Double
  public var threshold: Double
  public var requestedAtMs: Int64
  /// When the run fails for want of an answer.
  public var deadlineMs: Int64
  /// The held output (kind `lowConfidence`).
  public var held: HeldOutput?

  public init(
    stepName: String, cursor: Int, token: String, kind: Kind, confidence: Double = 0, threshold: Double = 0,
    requestedAtMs: Int64, deadlineMs: Int64, held: HeldOutput? = nil
  ) {
    self.stepName = stepName
    self.cursor = cursor
    self.token = token
    self.kind = kind
    self.confidence = confidence
    self.threshold = threshold
    self.requestedAtMs = requestedAtMs
    self.deadlineMs = deadlineMs
    self.held = held
  }
}

/// A request for approval, written by the runner holding the lease: the run becomes
/// AWAITING_APPROVAL, the lease is given up, and the recovery index holds the run until
/// the deadline (when, unanswered, the run fails).
public struct ApprovalRequest: Hashable, Sendable {
  public var workflowID: String
  public var fence: UInt64
  public var approval: PendingApproval
  /// The step's record while it waits.
  public var step: StepProgress
  /// The usage of the attempt whose output is held (charged now: money spent is spent).
  public var usage: StepUsage
  /// `ttlMs` covers the wait: the run never expires before its deadline.
  public var timing: WriteTiming

  public init(workflowID: String, fence: UInt64, approval: PendingApproval, step: StepProgress, usage: StepUsage, timing: WriteTiming) {
    self.workflowID = workflowID
    self.fence = fence
    self.approval = approval
    self.step = step
    self.usage = usage
    self.timing = timing
  }
}

/// A person's answer to an approval request.
public struct ApprovalAnswer: Hashable, Sendable {
  public var workflowID: String
  public var token: String
  public var approve: Bool
  public var note: String
  /// `ttlMs`: for a rejection, the retention of a failed run.
  public var timing: WriteTiming

  public init(workflowID: String, token: String, approve: Bool, note: String, timing: WriteTiming) {
    self.workflowID = workflowID
    self.token = token
    self.approve = approve
    self.note = note
    self.timing = timing
  }
}

/// What `answerApproval` did.
public enum ApprovalOutcome: Hashable, Sendable {
  /// Approved: the run is RUNNING again, leased with this token; the approval answered.
  case approved(fence: UInt64, approval: PendingApproval)
  /// Rejected: the run is FAILED (and resumable).
  case rejected
  /// Refused: the run is not awaiting approval, or the token is not (or no longer) its own.
  case refused(String)
  case notFound
}
