// The messages of the operating methods (issue 5): ListWorkflows, CancelWorkflow,
// ApproveStep, WatchWorkflow, Health. Mirrors of proto/resumable/v1/resumable.proto.

/// `resumable.v1.Approval`: a step waiting for a person.
public struct Approval: Hashable, Sendable {
  /// The step awaiting approval.
  public var step: String
  /// One-time: the first `ApproveStep` with it wins.
  public var token: String
  /// `before` or `low_confidence`.
  public var kind: String
  /// The artifact's confidence (kind `low_confidence`).
  public var confidence: Double
  /// The threshold it fell below (kind `low_confidence`).
  public var threshold: Double
  /// When approval was requested.
  public var requestedAtMs: Int64
  /// When the run fails for want of an answer.
  public var deadlineMs: Int64

  /// Creates the message; every field defaults to its protobuf default.
  public init(step: String = "", token: String = "", kind: String = "", confidence: Double = 0, threshold: Double = 0, requestedAtMs: Int64 = 0, deadlineMs: Int64 = 0) {
    self.step = step
    self.token = token
    self.kind = kind
    self.confidence = confidence
    self.threshold = threshold
    self.requestedAtMs = requestedAtMs
    self.deadlineMs = deadlineMs
  }
}

/// `resumable.v1.ListWorkflowsRequest`.
public struct ListWorkflowsRequest: Hashable, Sendable {
  /// Only runs with this status (`.unspecified`: any).
  public var status: RunStatus
  /// Only runs of this workflow (empty: any).
  public var workflow: String
  /// At most this many runs (0: the server's default).
  public var pageSize: UInt32
  /// Where the previous page ended.
  public var cursor: String

  /// Creates the message; every field defaults to its protobuf default.
  public init(status: RunStatus = .unspecified, workflow: String = "", pageSize: UInt32 = 0, cursor: String = "") {
    self.status = status
    self.workflow = workflow
    self.pageSize = pageSize
    self.cursor = cursor
  }
}

/// `resumable.v1.RunSummary`: what a list shows of a run.
public struct RunSummary: Hashable, Sendable {
  /// The run's id.
  public var workflowID: String
  /// The workflow's name.
  public var workflow: String
  /// The run's status.
  public var status: RunStatus
  /// The step the run is at.
  public var currentStep: String
  /// Its position, from 0.
  public var currentStepIndex: UInt32
  /// How many steps the workflow has.
  public var stepCount: UInt32
  /// When the run was created.
  public var createdAtMs: Int64
  /// When it last made progress.
  public var updatedAtMs: Int64
  /// Its cost ledger.
  public var cost: CostLedger
  /// Why it failed or was cancelled.
  public var error: String

  /// Creates the message; every field defaults to its protobuf default.
  public init(workflowID: String = "", workflow: String = "", status: RunStatus = .unspecified, currentStep: String = "", currentStepIndex: UInt32 = 0, stepCount: UInt32 = 0, createdAtMs: Int64 = 0, updatedAtMs: Int64 = 0, cost: CostLedger = CostLedger(), error: String = "") {
    self.workflowID = workflowID
    self.workflow = workflow
    self.status = status
    self.currentStep = currentStep
    self.currentStepIndex = currentStepIndex
    self.stepCount = stepCount
    self.createdAtMs = createdAtMs
    self.updatedAtMs = updatedAtMs
    self.cost = cost
    self.error = error
  }
}

/// `resumable.v1.ListWorkflowsResponse`.
public struct ListWorkflowsResponse: Hashable, Sendable {
  /// Newest first.
  public var runs: [RunSummary]
  /// The next page's cursor; empty when there is none.
  public var nextCursor: String

  /// Creates the message; every field defaults to its protobuf default.
  public init(runs: [RunSummary] = [], nextCursor: String = "") {
    self.runs = runs
    self.nextCursor = nextCursor
  }
}

/// `resumable.v1.CancelWorkflowRequest`.
public struct CancelWorkflowRequest: Hashable, Sendable {
  /// The run to cancel.
  public var workflowID: String
  /// Recorded as the run's error.
  public var reason: String

  /// Creates the message; every field defaults to its protobuf default.
  public init(workflowID: String = "", reason: String = "") {
    self.workflowID = workflowID
    self.reason = reason
  }
}

/// `resumable.v1.CancelWorkflowResponse`.
public struct CancelWorkflowResponse: Hashable, Sendable {
  /// The cancelled run.
  public var state: RunState

  /// Creates the message; every field defaults to its protobuf default.
  public init(state: RunState = RunState()) {
    self.state = state
  }
}

/// `resumable.v1.ApproveStepRequest`.
public struct ApproveStepRequest: Hashable, Sendable {
  /// The run awaiting approval.
  public var workflowID: String
  /// The run's `Approval.token`.
  public var token: String
  /// Reject instead: the run fails (and stays resumable).
  public var reject: Bool
  /// Kept in the run's events.
  public var note: String
  /// After an approval, return at once instead of waiting for the run to end.
  public var noWait: Bool

  /// Creates the message; every field defaults to its protobuf default.
  public init(workflowID: String = "", token: String = "", reject: Bool = false, note: String = "", noWait: Bool = false) {
    self.workflowID = workflowID
    self.token = token
    self.reject = reject
    self.note = note
    self.noWait = noWait
  }
}

/// `resumable.v1.ApproveStepResponse`.
public struct ApproveStepResponse: Hashable, Sendable {
  /// The run after the answer.
  public var state: RunState

  /// Creates the message; every field defaults to its protobuf default.
  public init(state: RunState = RunState()) {
    self.state = state
  }
}

/// `resumable.v1.WatchWorkflowRequest`.
public struct WatchWorkflowRequest: Hashable, Sendable {
  /// The run to watch.
  public var workflowID: String

  /// Creates the message; every field defaults to its protobuf default.
  public init(workflowID: String = "") {
    self.workflowID = workflowID
  }
}

/// `resumable.v1.RunEvent`: something that happened to a run.
public struct RunEvent: Hashable, Sendable {
  /// `step_committed`, `attempt_failed`, … (new types may appear).
  public var type: String
  /// The step it concerns.
  public var step: String
  /// The attempt it concerns.
  public var attempt: UInt32
  /// When it happened.
  public var atMs: Int64
  /// An attempt's error, a wait's reason, an approval's note.
  public var message: String
  /// When the next attempt may start.
  public var nextAttemptAtMs: Int64
  /// The run's status after the event.
  public var status: RunStatus

  /// Creates the message; every field defaults to its protobuf default.
  public init(type: String = "", step: String = "", attempt: UInt32 = 0, atMs: Int64 = 0, message: String = "", nextAttemptAtMs: Int64 = 0, status: RunStatus = .unspecified) {
    self.type = type
    self.step = step
    self.attempt = attempt
    self.atMs = atMs
    self.message = message
    self.nextAttemptAtMs = nextAttemptAtMs
    self.status = status
  }
}

/// `resumable.v1.WatchWorkflowResponse`: one frame of a watch.
public struct WatchWorkflowResponse: Hashable, Sendable {
  /// The run's state: on the first and the last frame.
  public var state: RunState
  /// The event: on every frame but the first.
  public var event: RunEvent

  /// Creates the message; every field defaults to its protobuf default.
  public init(state: RunState = RunState(), event: RunEvent = RunEvent()) {
    self.state = state
    self.event = event
  }
}

/// `resumable.v1.HealthRequest`.
public struct HealthRequest: Hashable, Sendable {

  /// Creates the message; every field defaults to its protobuf default.
  public init() {
  }
}

/// `resumable.v1.HealthResponse`.
public struct HealthResponse: Hashable, Sendable {
  /// `SERVING`, or `NOT_SERVING` with the reason in `redisError`.
  public var status: String
  /// The server's version.
  public var version: String
  /// Whether Redis answered `PING`.
  public var redisReachable: Bool
  /// One `PING` round trip, in microseconds.
  public var redisLatencyUs: UInt64
  /// Why the server is `NOT_SERVING`; while `SERVING`, a warning about Redis when there
  /// is one (an eviction policy other than `noeviction`, which may break runs).
  public var redisError: String
  /// Runs this server is driving now.
  public var runsInFlight: UInt32
  /// How long the server has run.
  public var uptimeMs: UInt64

  /// Creates the message; every field defaults to its protobuf default.
  public init(status: String = "", version: String = "", redisReachable: Bool = false, redisLatencyUs: UInt64 = 0, redisError: String = "", runsInFlight: UInt32 = 0, uptimeMs: UInt64 = 0) {
    self.status = status
    self.version = version
    self.redisReachable = redisReachable
    self.redisLatencyUs = redisLatencyUs
    self.redisError = redisError
    self.runsInFlight = runsInFlight
    self.uptimeMs = uptimeMs
  }
}
