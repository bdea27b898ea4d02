import Foundation
import Logging

/// Human approval: a step that asks before it runs (`approval: before`), or after it
/// ran when its output's confidence is low (`approval: {below_confidence: t}`).
extension WorkflowEngine {
  /// Writes the approval request (the runner holds the lease; the write gives it up).
  func askApproval(
    _ record: inout RunRecord, index: Int, kind: ApprovalKind, state stepState: StepProgress,
    held: (output: StepOutput, step: StepProgress)?, logger: Logger
  ) async {
    let step = record.definition.steps[index]
    let now = clock.epochMilliseconds
    let timeout = step.approvalTimeoutMilliseconds.map { Int64($0) } ?? configuration.approvalTimeout.wholeMilliseconds
    var approval = PendingApproval(
      stepName: step.name, cursor: index, token: UUID().uuidString.lowercased(), kind: .before,
      requestedAtMs: now, deadlineMs: now + timeout)
    var waiting = stepState
    waiting.status = .waiting
    var usage = StepUsage()
    switch kind {
    case .before:
      waiting.waitReason = "awaiting approval before it runs"
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
    guard await write(record, logger: logger, { try await self.store.requestApproval(request) }) else { return }
    EngineMetrics.charged(workflow: record.workflowName, usage: usage)
    record.steps[index] = waiting
    record.status = .awaitingApproval
    record.approval = approval
    logger.info("run awaiting approval", metadata: ["deadline_ms": "\(approval.deadlineMs)"])
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
    let outcome = try await EngineError.answering(about: id) {
      try await store.answerApproval(answer, lease: configuration.leaseDuration)
    }
    switch outcome {
    case .notFound:
      throw .runNotFound(id)
    case .refused(let why):
      throw EngineError(.failedPrecondition, "run '\(id)': \(why)")
    case .rejected:
      logger.info("step rejected", metadata: ["workflow_id": "\(id)"])
      return try await loadExisting(id)
    case .approved(let fence, let approval):
      logger.info("step approved", metadata: ["workflow_id": "\(id)", "step": "\(approval.stepName)"])
      guard let held = approval.held else {
        // Approved before it runs: drive it from that step (its attempt is begun already).
        var record: RunRecord
        do {
          record = try await loadExisting(id)
        } catch {
          try? await store.releaseLease(workflowID: id, fence: fence, runEnded: false)
          throw error
        }
        record.fence = fence
        let completion = try await submit(record)
        return try await finish(record, completion: completion, wait: wait)
      }
      return try await keep(held, of: approval, workflowID: id, fence: fence, wait: wait)
    }
  }

  /// Commits the output a person approved and drives the run on from the next step.
  private func keep(
    _ held: PendingApproval.HeldOutput, of approval: PendingApproval, workflowID id: String, fence: UInt64, wait: Bool
  ) async throws(EngineError) -> RunRecord {
    var record: RunRecord
    do {
      record = try await loadExisting(id)
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
        return try await loadExisting(id)
      }
      record = try await loadExisting(id)
      record.fence = fence
    } catch let error as EngineError {
      try? await store.releaseLease(workflowID: id, fence: fence, runEnded: false)
      throw error
    } catch {
      try? await store.releaseLease(workflowID: id, fence: fence, runEnded: false)
      throw EngineError(error, workflowID: id)
    }
    let completion = try await submit(record)
    return try await finish(record, completion: completion, wait: wait)
  }
}
