/// A step waiting for a person: stored with a run that is AWAITING_APPROVAL.
public struct PendingApproval: Hashable, Sendable {
  public enum Kind: String, Hashable, Sendable {
    /// The step asks before it runs.
    case before
    /// The step ran; its artifact scored below the threshold and waits, uncommitted.
    case lowConfidence = "low_confidence"
    /// The step's next attempt would take the run past its budget; it did not start.
    case budget
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
  /// What stopped the run (kind `budget`).
  public var budget: BudgetStop?

  /// The status of a run waiting for this answer.
  public var runStatus: RunRecord.Status { kind == .budget ? .awaitingBudget : .awaitingApproval }

  public init(
    stepName: String, cursor: Int, token: String, kind: Kind, confidence: Double = 0, threshold: Double = 0,
    requestedAtMs: Int64, deadlineMs: Int64, held: HeldOutput? = nil, budget: BudgetStop? = nil
  ) {
    self.budget = budget
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
  /// An answer to a budget pause (status AWAITING_BUDGET): the new budget, in
  /// micro-dollars, when it is raised. nil: an answer to an approval.
  public var budget: BudgetAnswer?

  /// The budget part of an answer.
  public enum BudgetAnswer: Hashable, Sendable {
    case raise(toMicros: Int64)
    case reject
  }

  public init(workflowID: String, token: String, approve: Bool, note: String, timing: WriteTiming, budget: BudgetAnswer? = nil) {
    self.budget = budget
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

/// Why a run's next attempt did not start: it would have taken the run past its budget.
public struct BudgetStop: Hashable, Sendable, Codable {
  /// The run's budget.
  public var budgetMicros: Int64
  /// What the run had spent.
  public var spentMicros: Int64
  /// What attempts running beside it (a parallel run's branches) are expected to cost.
  public var inFlightMicros: Int64
  /// What the attempt was expected to cost.
  public var estimateMicros: Int64

  public init(budgetMicros: Int64, spentMicros: Int64, inFlightMicros: Int64 = 0, estimateMicros: Int64) {
    self.budgetMicros = budgetMicros
    self.spentMicros = spentMicros
    self.inFlightMicros = inFlightMicros
    self.estimateMicros = estimateMicros
  }

  /// Spent, in flight and the attempt's estimate together.
  public var projectedMicros: Int64 { spentMicros &+ inFlightMicros &+ estimateMicros }

  /// "the next attempt of step 'x' would take the run to $0.30 ($0.20 spent + $0.10 expected), past its budget of $0.25".
  public func message(step: String) -> String {
    let inFlight = inFlightMicros > 0 ? " + \(Money.text(inFlightMicros)) running" : ""
    return
      "budget: the next attempt of step '\(step)' would take the run to \(Money.text(projectedMicros)) (\(Money.text(spentMicros)) spent\(inFlight) + \(Money.text(estimateMicros)) expected), past its budget of \(Money.text(budgetMicros))"
  }
}

extension PendingApproval {
  /// The message of the request's event.
  public var requestMessage: String {
    switch kind {
    case .before: "approval needed before the step runs"
    case .lowConfidence: "confidence \(confidence) is below \(threshold): approval needed to keep the output"
    case .budget: budget.map { "\($0.message(step: stepName)); raise the budget to go on" } ?? "the budget is spent"
    }
  }
}

extension ApprovalAnswer {
  /// The status of a run this answer is for.
  public var answers: RunRecord.Status { budget == nil ? .awaitingApproval : .awaitingBudget }

  /// Why the answer is refused, after "the run is STATUS", when the run is not at ``answers``.
  public var refusalAfterStatus: String {
    budget == nil
      ? ", not awaiting approval (an approval token works once)"
      : ", not awaiting a budget decision (a budget token works once)"
  }

  /// The type of the answer's event.
  public var eventType: String {
    switch budget {
    case nil: approve ? "step_approved" : "step_rejected"
    case .raise?: "budget_raised"
    case .reject?: "budget_rejected"
    }
  }

  /// The message of the answer's event.
  public var eventMessage: String {
    guard case .raise(let micros)? = budget else { return note }
    return "budget raised to \(Money.text(micros))" + (note.isEmpty ? "" : ": \(note)")
  }

  /// The run's error when the answer rejects it, before the step's name.
  public var rejectionBeforeStep: String {
    budget == nil ? "a person rejected step " : "a person refused more budget at step "
  }

  /// The run's error when the answer rejects it, after the step's name.
  public var rejectionAfterStep: String { note.isEmpty ? "" : ": \(note)" }
}
