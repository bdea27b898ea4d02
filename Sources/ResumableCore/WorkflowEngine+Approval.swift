import Foundation
import Logging

/// Human approval: a step that asks before it runs (`approval: before`), or after it
/// ran when its output's confidence is low (`approval: {below_confidence: t}`).
extension WorkflowEngine {
  /// Writes the approval request (the runner holds the lease; the write gives it up).
  /// - Parameter stepName: the record's name when it is not the step's (a map step's item, `STEP[i]`).
  func askApproval(
    _ record: inout RunRecord, index: Int, kind: ApprovalKind, state stepState: StepProgress,
    held: (output: StepOutput, step: StepProgress)?, logger: Logger, stepName: String? = nil
  ) async {
    var step = record.definition.steps[index]
    if let stepName { step.name = stepName }
    let now = clock.epochMilliseconds
    let timeout = step.approvalTimeoutMilliseconds.map { Int64($0) } ?? configuration.approvalTimeout.wholeMilliseconds
    // A parallel run's request names no cursor: its branches are anywhere.
    let cursor = record.definition.parallelism == nil ? index : StepCommit.branch
    var approval = PendingApproval(
      stepName: step.name, cursor: cursor, token: UUID().uuidString.lowercased(), kind: .before,
      requestedAtMs: now, deadlineMs: now + timeout)
    var waiting = stepState
    waiting.status = .waiting
    var usage = StepUsage()
    switch kind {
    case .before:
      waiting.waitReason = "awaiting approval before it runs"
    case .budget(let stop):
      approval.kind = .budget
      approval.budget = stop
      waiting.waitReason = stop.message(step: step.name)
    case .lowConfidence(let confidence):
      guard case .belowConfidence(let threshold) = step.approval, let held else { return }
      approval.kind = .lowConfidence
      approval.confidence = confidence
      approval.threshold = threshold
      approval.held = PendingApproval.HeldOutput(artifact: held.output.artifact, history: held.output.history, step: held.step)
      waiting.usage = held.step.usage
      waiting.waitReason = "awaiting approval: confidence \(confidence) is below \(threshold)"
      usage = held.output.usage
    }
    waiting.nextAttemptAtMs = approval.deadlineMs
    // The run must outlive its wait: never expire before the deadline.
    var timing = writeTiming()
    timing.ttlMs = max(timing.ttlMs, timeout + configuration.ttl.wholeMilliseconds)
    let request = ApprovalRequest(
      workflowID: record.workflowID, fence: record.fence, approval: approval, step: waiting, usage: usage, timing: timing)
    guard await write(logger: logger, { try await self.store.requestApproval(request) }) else { return }
    EngineMetrics.charged(workflow: record.workflowName, usage: usage)
    if needsEstimate(record) { await recordSpend(usage.costMicros, to: spendWindows(of: record), logger: logger) }
    if stepName == nil { record.steps[index] = waiting }
    record.status = approval.runStatus
    record.approval = approval
    if let stop = approval.budget {
      EngineMetrics.budgetStop(workflow: record.workflowName)
      logger.notice("run awaiting budget: \(stop.message(step: step.name))", metadata: ["deadline_ms": "\(approval.deadlineMs)"])
    } else {
      logger.info("run awaiting approval", metadata: ["deadline_ms": "\(approval.deadlineMs)"])
    }
  }

  /// Answers the approval a run awaits. Approved, the run goes on (this server drives
  /// it); rejected, it fails and stays resumable. One answer per token: a second one,
  /// or one racing it, is refused with FAILED_PRECONDITION.
  public func approve(
    workflowID id: String, token: String, approve: Bool, note: String, wait: Bool
  ) async throws(EngineError) -> RunRecord {
    if let problem = WorkflowID.problem(with: id) { throw EngineError(.invalidArgument, problem) }
    guard !token.isEmpty, token.utf8.count <= 128 else {
      throw EngineError(.invalidArgument, "the approval token is missing (it is in the run's state, under approval)")
    }
    if approve { try checkAcceptingRuns() }
    let answer = ApprovalAnswer(
      workflowID: id, token: token, approve: approve, note: String(note.prefix(1000)),
      timing: writeTiming(ending: approve ? nil : .failed))
    guard let (fence, approval) = try await send(answer) else { return try await loadExisting(id) }
    guard let held = approval.held else {
      // Approved before it runs: drive it from that step (its attempt is begun already).
      var record = try await givingLeaseBackOnError(id, fence: fence) { try await loadExisting(id) }
      record.fence = fence
      let completion = try await submit(record)
      return try await finish(record, completion: completion, wait: wait)
    }
    return try await keep(held, of: approval, workflowID: id, fence: fence, wait: wait)
  }

  /// Commits the output a person approved and drives the run on from the next step.
  private func keep(
    _ held: PendingApproval.HeldOutput, of approval: PendingApproval, workflowID id: String, fence: UInt64, wait: Bool
  ) async throws(EngineError) -> RunRecord {
    let record: RunRecord? = try await givingLeaseBackOnError(id, fence: fence) {
      var record = try await loadExisting(id)
      let index = approval.cursor
      let last = index + 1 == record.definition.steps.count
      let timing = writeTiming(ending: last ? .completed : nil)
      let next = last ? nil : (record.definition.steps[index + 1].name, record.steps[index + 1].beginningAttempt(at: timing.nowMs))
      // Its cost was charged when the output was held: nothing more is spent.
      let commit = StepCommit(
        workflowID: id, fence: fence, cursor: index, stepName: approval.stepName, artifact: held.artifact,
        step: held.step, usage: StepUsage(), next: next, timing: timing, history: held.history,
        maxHistoryMessages: record.definition.maxHistoryMessages ?? configuration.maximumHistoryMessages)
      try await retryingStore { try await self.store.commitStep(commit) }
      if last {
        try? await store.releaseLease(workflowID: id, fence: fence, runEnded: true)
        return nil
      }
      record = try await loadExisting(id)
      record.fence = fence
      return record
    }
    // The last step committed: the run is COMPLETED, nothing more to drive.
    guard let record else { return try await loadExisting(id) }
    let completion = try await submit(record)
    return try await finish(record, completion: completion, wait: wait)
  }

  /// Runs `body` with the lease a person's answer took for run `id`; when it
  /// throws, the lease is given back (the run waits for a resume or recovery)
  /// and the error is the engine's.
  func givingLeaseBackOnError<T>(
    _ id: String, fence: UInt64, _ body: () async throws -> T
  ) async throws(EngineError) -> T {
    do {
      return try await body()
    } catch {
      try? await store.releaseLease(workflowID: id, fence: fence, runEnded: false)
      if let error = error as? EngineError { throw error }
      throw EngineError(error, workflowID: id)
    }
  }
}

/// Budget stops: a run whose next attempt would pass its budget waits
/// (AWAITING_BUDGET) for a person to raise the budget or reject the run.
extension WorkflowEngine {
  /// Answers the budget stop a run awaits: `raiseToMicros` continues it with
  /// that budget (this server drives it); nil rejects it (the run FAILS, and
  /// stays resumable). One answer per token, as for approvals.
  public func answerBudget(
    workflowID id: String, token: String, raiseToMicros: Int64?, note: String, wait: Bool
  ) async throws(EngineError) -> RunRecord {
    if let problem = WorkflowID.problem(with: id) { throw EngineError(.invalidArgument, problem) }
    guard !token.isEmpty, token.utf8.count <= 128 else {
      throw EngineError(.invalidArgument, "the budget token is missing (it is in the run's state, under approval)")
    }
    if let raise = raiseToMicros {
      try checkAcceptingRuns()
      // Nothing runs while the run waits, so what it has spent cannot grow under this check.
      let existing = try await loadExisting(id)
      guard raise >= existing.ledger.spentMicros else {
        throw EngineError(
          .invalidArgument,
          "run '\(id)' has spent \(Money.text(existing.ledger.spentMicros)); a budget of \(Money.text(raise)) is below that — raise it to more")
      }
    }
    let answer = ApprovalAnswer(
      workflowID: id, token: token, approve: raiseToMicros != nil, note: String(note.prefix(1000)),
      timing: writeTiming(ending: raiseToMicros == nil ? .failed : nil),
      budget: raiseToMicros.map { .raise(toMicros: $0) } ?? .reject)
    guard let (fence, _) = try await send(answer) else { return try await loadExisting(id) }
    let record = try await givingLeaseBackOnError(id, fence: fence) {
      var record = try await loadExisting(id)
      record.fence = fence
      if record.definition.parallelism == nil {
        // The attempt given back at the stop is begun again (a parallel run's driver
        // begins each branch it launches).
        let timing = writeTiming()
        let step = record.steps[record.cursor].beginningAttempt(at: timing.nowMs)
        let begin = AttemptBegin(
          workflowID: id, fence: fence, cursor: record.cursor, stepName: record.definition.steps[record.cursor].name,
          step: step, resume: nil, timing: timing)
        try await retryingStore { try await self.store.beginAttempt(begin) }
        record.steps[record.cursor] = step
      }
      return record
    }
    let completion = try await submit(record)
    return try await finish(record, completion: completion, wait: wait)
  }

  /// Sends a person's answer to the store: the lease it gave the run and the
  /// request answered, or nil when the answer rejected the run.
  /// - Throws: NOT_FOUND for no such run, FAILED_PRECONDITION when the store refused it.
  private func send(_ answer: ApprovalAnswer) async throws(EngineError) -> (fence: UInt64, approval: PendingApproval)? {
    let id = answer.workflowID
    let outcome = try await EngineError.answering(about: id) {
      try await store.answerApproval(answer, lease: configuration.leaseDuration)
    }
    switch outcome {
    case .notFound:
      throw .runNotFound(id)
    case .refused(let why):
      throw EngineError(.failedPrecondition, "run '\(id)': \(why)")
    case .rejected:
      logger.info("\(answer.eventType)", metadata: ["workflow_id": "\(id)"])
      return nil
    case .approved(let fence, let approval):
      logger.info("\(answer.eventType)", metadata: ["workflow_id": "\(id)", "step": "\(approval.stepName)"])
      return (fence, approval)
    }
  }
}
