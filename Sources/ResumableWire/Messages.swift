// Swift value types for the messages of proto/resumable/v1/resumable.proto.
// Field for field as in the .proto; conversion to and from protobuf lives in
// `Messages+Protobuf.swift` (with `Envelope+Protobuf.swift` and
// `ProtobufC.swift`, the only files where protobuf-c pointers exist).

/// `resumable.v1.RunStatus`. Unknown numbers decode as `.unspecified`.
public enum RunStatus: Int, Hashable, Sendable, CaseIterable {
  /// No status: the default, and any number this build does not know.
  case unspecified = 0
  /// The run is in progress.
  case running = 1
  /// Every step has committed.
  case completed = 2
  /// A step failed with no attempt left; `ResumeWorkflow` retries it.
  case failed = 3
  /// The run waits for a step to be approved.
  case awaitingApproval = 4
  /// The run was cancelled.
  case cancelled = 5
}

/// `resumable.v1.StepStatus`. Unknown numbers decode as `.unspecified`.
public enum StepStatus: Int, Hashable, Sendable, CaseIterable {
  /// No status: the default, and any number this build does not know.
  case unspecified = 0
  /// Not started yet in this run.
  case pending = 1
  /// An attempt has begun and has not ended (or its server died).
  case running = 2
  /// Committed: its artifact is stored; it never runs again in this run.
  case completed = 3
  /// Its last attempt failed and no attempt is left; resume retries it.
  case failed = 4
  /// Waiting before its next attempt (retry backoff or a rate limit's
  /// retry-after); `waitReason` says which.
  case retrying = 5
  /// Waiting, with no attempt begun, for its plugin's circuit breaker to let a
  /// probe through; `waitReason` says why.
  case waiting = 6
}

/// `resumable.v1.ErrorClass`: what a failed attempt's error says about
/// retrying. Unknown numbers decode as `.unspecified`.
public enum ErrorClass: Int, Hashable, Sendable, CaseIterable {
  /// No attempt has failed (and any number this build does not know).
  case unspecified = 0
  /// Another attempt can succeed.
  case retryable = 1
  /// Retrying cannot help; the run failed at once.
  case nonRetryable = 2
  /// The plugin's service is rate-limited; retried after its retry-after.
  case rateLimited = 3
}

/// `resumable.v1.GivenInput`: one input a step was given, with its size.
public struct GivenInput: Hashable, Sendable {
  /// `input` or the name of an earlier step.
  public var name: String
  /// The input's size in bytes.
  public var bytes: UInt64

  /// Creates a given-input record.
  public init(name: String = "", bytes: UInt64 = 0) {
    self.name = name
    self.bytes = bytes
  }
}

/// `resumable.v1.HistoryMessage`: one message of a run's history.
public struct HistoryMessage: Hashable, Sendable {
  /// Who spoke: `system`, `user`, `assistant`, `tool`, …
  public var role: String
  /// The message text.
  public var content: String

  /// Creates a message.
  public init(role: String = "", content: String = "") {
    self.role = role
    self.content = content
  }
}

/// `resumable.v1.ConflictPolicy`. Unknown numbers decode as `.fail`.
public enum ConflictPolicy: Int, Hashable, Sendable, CaseIterable {
  /// Answer `ALREADY_EXISTS`, naming the existing run's status. Also any
  /// number this build does not know.
  case fail = 0
  /// Return the existing run's state (waiting for it if asked to wait).
  case useExisting = 1
}

/// `resumable.v1.Usage`: tokens and integer micro-dollars.
public struct Usage: Hashable, Sendable {
  /// Input (prompt) tokens.
  public var inputTokens: UInt64
  /// Output (completion) tokens.
  public var outputTokens: UInt64
  /// Cost in micro-dollars (1 USD = 1,000,000).
  public var costMicros: Int64

  /// Creates a usage record; every field defaults to zero.
  public init(inputTokens: UInt64 = 0, outputTokens: UInt64 = 0, costMicros: Int64 = 0) {
    self.inputTokens = inputTokens
    self.outputTokens = outputTokens
    self.costMicros = costMicros
  }
}

/// `resumable.v1.StepRecord`.
public struct StepRecord: Hashable, Sendable {
  /// The step's name.
  public var name: String
  /// The plugin that runs the step.
  public var plugin: String
  /// The step's status in this run.
  public var status: StepStatus
  /// Attempts begun in this run; an attempt interrupted by a crash counts.
  public var attempts: UInt32
  /// Usage summed over all attempts, failed ones included.
  public var usage: Usage
  /// The last failed attempt's error; empty when none failed.
  public var lastError: String
  /// Whether retrying can help with `lastError`.
  public var lastErrorRetryable: Bool
  /// When the step started, in Unix milliseconds; 0 when not reached.
  public var startedAtMs: Int64
  /// When the step finished, in Unix milliseconds; 0 when not reached.
  public var finishedAtMs: Int64
  /// Size of the committed artifact, in bytes.
  public var artifactBytes: UInt64
  /// Cost of this step's committed result that resumes did not pay again.
  public var savedMicros: Int64
  /// The class of `lastError`.
  public var lastErrorClass: ErrorClass
  /// Why the step waits (status `.retrying` or `.waiting`); empty otherwise.
  public var waitReason: String
  /// Unix milliseconds of the next attempt (or circuit probe) while the step waits; 0 otherwise.
  public var nextAttemptAtMs: Int64
  /// The declared inputs the step's last attempt was given, with their sizes.
  public var inputsGiven: [GivenInput]
  /// How many history messages the step's last attempt was given.
  public var historyMessagesGiven: UInt32
  /// The size of the history the step's last attempt was given, in bytes.
  public var historyBytesGiven: UInt64

  /// Creates a step record; every field defaults to its protobuf default.
  public init(
    name: String = "", plugin: String = "", status: StepStatus = .unspecified,
    attempts: UInt32 = 0, usage: Usage = Usage(), lastError: String = "",
    lastErrorRetryable: Bool = false, startedAtMs: Int64 = 0, finishedAtMs: Int64 = 0,
    artifactBytes: UInt64 = 0, savedMicros: Int64 = 0, lastErrorClass: ErrorClass = .unspecified,
    waitReason: String = "", nextAttemptAtMs: Int64 = 0, inputsGiven: [GivenInput] = [],
    historyMessagesGiven: UInt32 = 0, historyBytesGiven: UInt64 = 0
  ) {
    self.lastErrorClass = lastErrorClass
    self.waitReason = waitReason
    self.nextAttemptAtMs = nextAttemptAtMs
    self.inputsGiven = inputsGiven
    self.historyMessagesGiven = historyMessagesGiven
    self.historyBytesGiven = historyBytesGiven
    self.name = name
    self.plugin = plugin
    self.status = status
    self.attempts = attempts
    self.usage = usage
    self.lastError = lastError
    self.lastErrorRetryable = lastErrorRetryable
    self.startedAtMs = startedAtMs
    self.finishedAtMs = finishedAtMs
    self.artifactBytes = artifactBytes
    self.savedMicros = savedMicros
  }
}

/// `resumable.v1.Artifact`: one committed step's output.
public struct Artifact: Hashable, Sendable {
  /// The name of the step that produced the artifact.
  public var step: String
  /// The step's committed output; JSON by default.
  public var data: [UInt8]

  /// Creates an artifact; both fields default to empty.
  public init(step: String = "", data: [UInt8] = []) {
    self.step = step
    self.data = data
  }
}

/// `resumable.v1.CostLedger`.
public struct CostLedger: Hashable, Sendable {
  /// Everything paid, failed attempts included, in micro-dollars.
  public var spentMicros: Int64
  /// Cost of committed steps that resumes did not run again, in micro-dollars.
  public var savedByResumeMicros: Int64
  /// Input tokens over the whole run.
  public var inputTokens: UInt64
  /// Output tokens over the whole run.
  public var outputTokens: UInt64

  /// Creates a ledger; every field defaults to zero.
  public init(
    spentMicros: Int64 = 0, savedByResumeMicros: Int64 = 0, inputTokens: UInt64 = 0,
    outputTokens: UInt64 = 0
  ) {
    self.spentMicros = spentMicros
    self.savedByResumeMicros = savedByResumeMicros
    self.inputTokens = inputTokens
    self.outputTokens = outputTokens
  }
}

/// `resumable.v1.RunState`: everything a caller needs to know about a run.
public struct RunState: Hashable, Sendable {
  /// The run's id.
  public var workflowID: String
  /// The workflow definition's name.
  public var workflow: String
  /// The run's status.
  public var status: RunStatus
  /// The step the run is at: the step running or failed, or the last step once completed.
  public var currentStep: String
  /// The index of `currentStep` among the steps.
  public var currentStepIndex: UInt32
  /// The steps' records, in order.
  public var steps: [StepRecord]
  /// Committed artifacts; only when asked for (`GetStateRequest.includeArtifacts`).
  public var artifacts: [Artifact]
  /// What the run has cost and what resumes saved.
  public var cost: CostLedger
  /// The version of the run state's schema.
  public var schemaVersion: UInt32
  /// When the run was created, in Unix milliseconds.
  public var createdAtMs: Int64
  /// When the run last changed, in Unix milliseconds.
  public var updatedAtMs: Int64
  /// When every key of the run expires from Redis, in Unix milliseconds; 0 when never.
  public var expiresAtMs: Int64
  /// How many times `ResumeWorkflow` continued this run.
  public var resumes: UInt32
  /// Why the run failed (the failed step's error, with its name); empty otherwise.
  public var error: String
  /// Messages in the run's history now (after trimming to its cap).
  public var historyMessages: UInt32
  /// The run's history, oldest first; only when asked for (`GetStateRequest.includeHistory`).
  public var history: [HistoryMessage]
  /// The approval the run waits for (empty token unless `AWAITING_APPROVAL`).
  public var approval: Approval

  /// Creates a run state; every field defaults to its protobuf default.
  public init(
    workflowID: String = "", workflow: String = "", status: RunStatus = .unspecified,
    currentStep: String = "", currentStepIndex: UInt32 = 0, steps: [StepRecord] = [],
    artifacts: [Artifact] = [], cost: CostLedger = CostLedger(), schemaVersion: UInt32 = 0,
    createdAtMs: Int64 = 0, updatedAtMs: Int64 = 0, expiresAtMs: Int64 = 0,
    resumes: UInt32 = 0, error: String = "", historyMessages: UInt32 = 0,
    history: [HistoryMessage] = [], approval: Approval = Approval()
  ) {
    self.historyMessages = historyMessages
    self.history = history
    self.approval = approval
    self.workflowID = workflowID
    self.workflow = workflow
    self.status = status
    self.currentStep = currentStep
    self.currentStepIndex = currentStepIndex
    self.steps = steps
    self.artifacts = artifacts
    self.cost = cost
    self.schemaVersion = schemaVersion
    self.createdAtMs = createdAtMs
    self.updatedAtMs = updatedAtMs
    self.expiresAtMs = expiresAtMs
    self.resumes = resumes
    self.error = error
  }
}

/// `resumable.v1.StartWorkflowRequest`.
public struct StartWorkflowRequest: Hashable, Sendable {
  /// The workflow definition's name.
  public var workflow: String
  /// The run's id: `[A-Za-z0-9._:-]`, at most 128 bytes; empty lets the server choose a UUID.
  public var workflowID: String
  /// The workflow's input, a JSON document; empty means JSON `null`.
  public var inputJSON: String
  /// Return at once with the run running instead of waiting for it to end.
  public var noWait: Bool
  /// What to do when a run with `workflowID` exists already.
  public var onConflict: ConflictPolicy

  /// Creates a request; every field defaults to its protobuf default.
  public init(
    workflow: String = "", workflowID: String = "", inputJSON: String = "",
    noWait: Bool = false, onConflict: ConflictPolicy = .fail
  ) {
    self.workflow = workflow
    self.workflowID = workflowID
    self.inputJSON = inputJSON
    self.noWait = noWait
    self.onConflict = onConflict
  }
}

/// `resumable.v1.StartWorkflowResponse`.
public struct StartWorkflowResponse: Hashable, Sendable {
  /// The run's state.
  public var state: RunState
  /// False when `onConflict: .useExisting` returned an existing run.
  public var created: Bool

  /// Creates a response.
  public init(state: RunState = RunState(), created: Bool = false) {
    self.state = state
    self.created = created
  }
}

/// `resumable.v1.ResumeWorkflowRequest`.
public struct ResumeWorkflowRequest: Hashable, Sendable {
  /// The id of the run to resume.
  public var workflowID: String
  /// Return at once with the run running instead of waiting for it to end.
  public var noWait: Bool
  /// Run again from this step (by name), discarding its artifact and later ones;
  /// empty: resume where the run stopped.
  public var fromStep: String

  /// Creates a request.
  public init(workflowID: String = "", noWait: Bool = false, fromStep: String = "") {
    self.workflowID = workflowID
    self.noWait = noWait
    self.fromStep = fromStep
  }
}

/// `resumable.v1.ResumeWorkflowResponse`.
public struct ResumeWorkflowResponse: Hashable, Sendable {
  /// The run's state.
  public var state: RunState

  /// Creates a response.
  public init(state: RunState = RunState()) { self.state = state }
}

/// `resumable.v1.GetStateRequest`.
public struct GetStateRequest: Hashable, Sendable {
  /// The id of the run.
  public var workflowID: String
  /// Include each committed step's artifact in the response.
  public var includeArtifacts: Bool
  /// Include the run's message history in the response.
  public var includeHistory: Bool

  /// Creates a request.
  public init(workflowID: String = "", includeArtifacts: Bool = false, includeHistory: Bool = false) {
    self.workflowID = workflowID
    self.includeArtifacts = includeArtifacts
    self.includeHistory = includeHistory
  }
}

/// `resumable.v1.GetStateResponse`.
public struct GetStateResponse: Hashable, Sendable {
  /// The run's state.
  public var state: RunState

  /// Creates a response.
  public init(state: RunState = RunState()) { self.state = state }
}
