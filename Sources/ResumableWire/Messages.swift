// Swift value types for the messages of proto/resumable/v1/resumable.proto.
// Field for field as in the .proto; conversion to and from protobuf lives in
// `Messages+Protobuf.swift`, the only place protobuf-c pointers exist.

/// `resumable.v1.RunStatus`. Unknown numbers decode as `.unspecified`.
public enum RunStatus: Int, Hashable, Sendable, CaseIterable {
  case unspecified = 0
  case running = 1
  case completed = 2
  case failed = 3
  case awaitingApproval = 4
  case cancelled = 5
}

/// `resumable.v1.StepStatus`. Unknown numbers decode as `.unspecified`.
public enum StepStatus: Int, Hashable, Sendable, CaseIterable {
  case unspecified = 0
  case pending = 1
  case running = 2
  case completed = 3
  case failed = 4
  case retrying = 5
}

/// `resumable.v1.ConflictPolicy`. Unknown numbers decode as `.fail`.
public enum ConflictPolicy: Int, Hashable, Sendable, CaseIterable {
  case fail = 0
  case useExisting = 1
}

/// `resumable.v1.Usage`: tokens and integer micro-dollars.
public struct Usage: Hashable, Sendable {
  public var inputTokens: UInt64
  public var outputTokens: UInt64
  public var costMicros: Int64

  public init(inputTokens: UInt64 = 0, outputTokens: UInt64 = 0, costMicros: Int64 = 0) {
    self.inputTokens = inputTokens
    self.outputTokens = outputTokens
    self.costMicros = costMicros
  }
}

/// `resumable.v1.StepRecord`.
public struct StepRecord: Hashable, Sendable {
  public var name: String
  public var plugin: String
  public var status: StepStatus
  public var attempts: UInt32
  public var usage: Usage
  public var lastError: String
  public var lastErrorRetryable: Bool
  public var startedAtMs: Int64
  public var finishedAtMs: Int64
  public var artifactBytes: UInt64
  public var savedMicros: Int64

  public init(
    name: String = "", plugin: String = "", status: StepStatus = .unspecified,
    attempts: UInt32 = 0, usage: Usage = Usage(), lastError: String = "",
    lastErrorRetryable: Bool = false, startedAtMs: Int64 = 0, finishedAtMs: Int64 = 0,
    artifactBytes: UInt64 = 0, savedMicros: Int64 = 0
  ) {
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
  public var step: String
  public var data: [UInt8]

  public init(step: String = "", data: [UInt8] = []) {
    self.step = step
    self.data = data
  }
}

/// `resumable.v1.CostLedger`.
public struct CostLedger: Hashable, Sendable {
  public var spentMicros: Int64
  public var savedByResumeMicros: Int64
  public var inputTokens: UInt64
  public var outputTokens: UInt64

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
  public var workflowID: String
  public var workflow: String
  public var status: RunStatus
  public var currentStep: String
  public var currentStepIndex: UInt32
  public var steps: [StepRecord]
  public var artifacts: [Artifact]
  public var cost: CostLedger
  public var schemaVersion: UInt32
  public var createdAtMs: Int64
  public var updatedAtMs: Int64
  public var expiresAtMs: Int64
  public var resumes: UInt32
  public var error: String

  public init(
    workflowID: String = "", workflow: String = "", status: RunStatus = .unspecified,
    currentStep: String = "", currentStepIndex: UInt32 = 0, steps: [StepRecord] = [],
    artifacts: [Artifact] = [], cost: CostLedger = CostLedger(), schemaVersion: UInt32 = 0,
    createdAtMs: Int64 = 0, updatedAtMs: Int64 = 0, expiresAtMs: Int64 = 0,
    resumes: UInt32 = 0, error: String = ""
  ) {
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
  public var workflow: String
  public var workflowID: String
  public var inputJSON: String
  public var noWait: Bool
  public var onConflict: ConflictPolicy

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
  public var state: RunState
  public var created: Bool

  public init(state: RunState = RunState(), created: Bool = false) {
    self.state = state
    self.created = created
  }
}

/// `resumable.v1.ResumeWorkflowRequest`.
public struct ResumeWorkflowRequest: Hashable, Sendable {
  public var workflowID: String
  public var noWait: Bool

  public init(workflowID: String = "", noWait: Bool = false) {
    self.workflowID = workflowID
    self.noWait = noWait
  }
}

/// `resumable.v1.ResumeWorkflowResponse`.
public struct ResumeWorkflowResponse: Hashable, Sendable {
  public var state: RunState

  public init(state: RunState = RunState()) { self.state = state }
}

/// `resumable.v1.GetStateRequest`.
public struct GetStateRequest: Hashable, Sendable {
  public var workflowID: String
  public var includeArtifacts: Bool

  public init(workflowID: String = "", includeArtifacts: Bool = false) {
    self.workflowID = workflowID
    self.includeArtifacts = includeArtifacts
  }
}

/// `resumable.v1.GetStateResponse`.
public struct GetStateResponse: Hashable, Sendable {
  public var state: RunState

  public init(state: RunState = RunState()) { self.state = state }
}
