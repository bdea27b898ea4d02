// The one place Core's domain values become Wire's messages and back: a run's
// state, its steps, statuses, events, list entries and error codes. Core and Wire
// share no type name; a field added to the protocol is filled in here.
import ResumableCore
import ResumableWire

extension ResumableWire.RunState {
  /// The wire form of a stored run.
  init(_ record: RunRecord, includeArtifacts: Bool, includeHistory: Bool = false, includeItems: Bool = false) {
    let steps = zip(record.definition.steps, record.steps).map { definition, state in
      var step = StepRecord(name: definition.name, plugin: definition.plugin, state)
      if definition.map != nil {
        let items = record.items[definition.name] ?? [:]
        step.itemsTotal = UInt32(clamping: state.itemsTotal ?? 0)
        step.itemsCommitted = UInt32(clamping: items.values.filter { $0.status == .completed }.count)
        step.itemsFailed = UInt32(clamping: items.values.filter { $0.status == .failed }.count)
        step.itemsRunning = UInt32(clamping: items.values.filter { $0.status.isAtWork }.count)
      }
      return step
    }
    let items =
      includeItems
      ? record.definition.steps.flatMap { definition in
        (record.items[definition.name] ?? [:]).sorted { $0.key < $1.key }.map {
          StepRecord(name: definition.itemName($0.key), plugin: definition.plugin, $0.value)
        }
      } : []
    let artifacts =
      includeArtifacts
      ? record.definition.steps.compactMap { step in
        record.artifacts[step.name].map { Artifact(step: step.name, data: $0) }
      } : []
    self.init(
      workflowID: record.workflowID, workflow: record.workflowName, status: ResumableWire.RunStatus(record.status),
      currentStep: record.currentStepName,
      currentStepIndex: UInt32(min(record.cursor, record.definition.steps.count - 1)), steps: steps,
      artifacts: artifacts,
      cost: ResumableWire.CostLedger(record.ledger),
      schemaVersion: record.schemaVersion, createdAtMs: record.createdAtMs, updatedAtMs: record.updatedAtMs,
      expiresAtMs: record.expiresAtMs, resumes: record.resumes, error: record.error ?? "",
      historyMessages: UInt32(clamping: record.historyLength),
      history: includeHistory
        ? record.history.map { ResumableWire.HistoryMessage(role: $0.role, content: $0.content) } : [],
      approval: record.approval.map {
        Approval(
          step: $0.stepName, token: $0.token, kind: $0.kind.rawValue, confidence: $0.confidence,
          threshold: $0.threshold, requestedAtMs: $0.requestedAtMs, deadlineMs: $0.deadlineMs)
      } ?? Approval(),
      runningSteps: record.status == .running
        ? zip(record.definition.steps, record.steps).filter { $0.1.status.isAtWork }.map(\.0.name) : [],
      items: items, budget: ResumableWire.Budget(limit: record.budgetMicros, stop: record.approval?.budget))
  }
}

extension ResumableWire.Budget {
  /// A run's budget, and what stopped it while it awaits budget.
  init(limit: Int64?, stop: BudgetStop?) {
    self.init(
      limitMicros: limit ?? 0, hasBudget: limit != nil, spentMicros: stop?.spentMicros ?? 0,
      inFlightMicros: stop?.inFlightMicros ?? 0, estimateMicros: stop?.estimateMicros ?? 0,
      projectedMicros: stop?.projectedMicros ?? 0)
  }
}

extension StepRecord {
  /// The wire form of a step's (or an item's) record.
  init(name: String, plugin: String, _ state: StepProgress) {
    self.init(
      name: name, plugin: plugin, status: ResumableWire.StepStatus(state.status),
        attempts: state.attempts,
        usage: Usage(state.usage),
        lastError: state.lastError ?? "", lastErrorRetryable: state.lastErrorRetryable,
        startedAtMs: state.startedAtMs, finishedAtMs: state.finishedAtMs,
        artifactBytes: state.artifactBytes, savedMicros: state.savedMicros,
        lastErrorClass: ErrorClass(state.lastErrorClass), waitReason: state.waitReason ?? "",
        nextAttemptAtMs: state.nextAttemptAtMs,
        inputsGiven: (state.given?.inputs ?? []).map { GivenInput(name: $0.name, bytes: $0.bytes) },
        historyMessagesGiven: state.given?.historyMessages ?? 0,
        historyBytesGiven: state.given?.historyBytes ?? 0)
  }
}

extension StepProgress.Status {
  /// Running, or waiting between attempts.
  fileprivate var isAtWork: Bool { self == .running || self == .retrying || self == .waiting }
}

extension ErrorClass {
  init(_ kind: FailureKind?) {
    switch kind {
    case nil: self = .unspecified
    case .retryable: self = .retryable
    case .nonRetryable: self = .nonRetryable
    case .rateLimited: self = .rateLimited
    }
  }
}

extension ResumableWire.RunStatus {
  init(_ status: RunRecord.Status) {
    switch status {
    case .running: self = .running
    case .completed: self = .completed
    case .failed: self = .failed
    case .awaitingApproval: self = .awaitingApproval
    case .cancelled: self = .cancelled
    case .awaitingBudget: self = .awaitingBudget
    }
  }
}

extension RunRecord.Status {
  /// The status a wire status names; nil for `unspecified`. The inverse of
  /// the mapping above, so the two cannot disagree.
  init?(_ status: ResumableWire.RunStatus) {
    guard let named = Self.allCases.first(where: { ResumableWire.RunStatus($0) == status }) else { return nil }
    self = named
  }
}

extension ResumableWire.StepStatus {
  init(_ status: StepProgress.Status) {
    switch status {
    case .pending: self = .pending
    case .running: self = .running
    case .completed: self = .completed
    case .failed: self = .failed
    case .retrying: self = .retrying
    case .waiting: self = .waiting
    }
  }
}

extension StatusCode {
  /// The wire status of an engine error: the code's gRPC number.
  init(_ code: EngineError.Code) {
    self.init(rawValue: code.number)
  }
}

extension ResumableWire.RunSummary {
  /// The wire form of a listed run.
  init(_ summary: RunListEntry) {
    self.init(
      workflowID: summary.workflowID, workflow: summary.workflowName, status: ResumableWire.RunStatus(summary.status),
      currentStep: summary.currentStepName, currentStepIndex: UInt32(clamping: min(summary.cursor, max(0, summary.stepCount - 1))),
      stepCount: UInt32(clamping: summary.stepCount), createdAtMs: summary.createdAtMs, updatedAtMs: summary.updatedAtMs,
      cost: ResumableWire.CostLedger(summary.ledger),
      error: summary.error ?? "")
  }
}

extension ResumableWire.RunEvent {
  init(_ event: RunEventRecord) {
    self.init(
      type: event.type, step: event.step, attempt: event.attempt, atMs: event.atMs, message: event.message,
      nextAttemptAtMs: event.nextAttemptAtMs, status: event.status.map(ResumableWire.RunStatus.init) ?? .unspecified,
      itemIndex: RunRecord.itemField(event.step).map { Int32(clamping: $0.index) } ?? -1)
  }
}

extension StepTask {
  /// The wire form of a task given to a worker.
  init(_ task: WorkerTask) {
    self.init(
      taskID: task.taskID, task: task.task, workflowID: task.workflowID, workflow: task.workflowName, step: task.step,
      attempt: UInt32(clamping: task.attempt), idempotencyKey: task.idempotencyKey, stepKey: task.stepKey,
      deadlineUnixMs: task.deadlineUnixMs ?? 0, configJSON: task.configJSON,
      inputs: task.inputs.map { TaskInput(name: $0.name, data: $0.bytes) },
      history: task.history.map { ResumableWire.HistoryMessage(role: $0.role, content: $0.content) },
      heartbeatTimeoutMs: UInt32(clamping: task.heartbeatTimeout?.wholeMilliseconds ?? 0))
  }
}

extension WorkerInfo {
  /// The wire form of a connected worker.
  init(_ worker: WorkerSummary) {
    self.init(
      workerID: worker.workerID, name: worker.name, tasks: worker.tasks, slots: UInt32(clamping: worker.slots),
      inFlight: UInt32(clamping: worker.inFlight), connectedAtMs: worker.connectedAtMs, dispatched: worker.dispatched,
      pid: worker.pid ?? 0, draining: worker.draining)
  }
}

extension StepUsage {
  /// A worker's reported usage.
  init(_ usage: Usage) {
    self.init(
      inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, cachedInputTokens: usage.cachedInputTokens,
      cacheWriteTokens: usage.cacheWriteTokens, costMicros: usage.costMicros)
  }
}

extension Usage {
  /// The wire form of an attempt's (or a step's summed) usage.
  init(_ usage: StepUsage) {
    self.init(
      inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, costMicros: usage.costMicros,
      cachedInputTokens: usage.cachedInputTokens, cacheWriteTokens: usage.cacheWriteTokens)
  }
}

extension ResumableWire.CostLedger {
  /// The wire form of a run's ledger.
  init(_ ledger: RunLedger) {
    self.init(
      spentMicros: ledger.spentMicros, savedByResumeMicros: ledger.savedByResumeMicros,
      inputTokens: ledger.inputTokens, outputTokens: ledger.outputTokens,
      cachedInputTokens: ledger.cachedInputTokens, cacheWriteTokens: ledger.cacheWriteTokens)
  }
}
