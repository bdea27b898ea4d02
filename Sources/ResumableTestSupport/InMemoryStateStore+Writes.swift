public import ResumableCore

/// The writes of a runner and of the operators (Redis: `Scripts.begin`,
/// `commit`, `fail`, `requestApproval`, `answerApproval`, `cancel`, `rerun`).
/// Each is checked, then applied whole, under the one lock.
extension InMemoryStateStore {
  public func beginAttempt(_ begin: AttemptBegin) async throws(StoreError) {
    let timing = begin.timing
    let now = nowMs
    try state.withLock { state throws(StoreError) in
      // A resume makes the run RUNNING again: it goes (back) into the index, ahead of the write.
      if begin.resume != nil { state.recovery[begin.workflowID] = timing.nowMs + timing.leaseMs }
      let scope = State.scope(cursor: begin.cursor, step: begin.stepName)
      if state.live(begin.workflowID, now: now)?.replay(timing.operation, scope: scope) != nil { return }
      var run = try state.enter(
        begin.workflowID, fence: begin.fence, cursor: begin.cursor, now: now,
        statuses: begin.resume == nil ? [.running] : [.running, .failed])
      run.setStep(begin.stepName, begin.step)
      if let resume = begin.resume {
        run.record.resumes += 1
        run.record.ledger.savedByResumeMicros += resume.savedMicros
        for (name, step) in resume.updatedSteps { run.setStep(name, step) }
        run.record.error = nil
      }
      run.record.status = .running
      run.record.updatedAtMs = timing.nowMs
      run.record.expiresAtMs = timing.nowMs + timing.ttlMs
      state.progress(
        &run, fence: begin.fence, timing: timing, now: now,
        event: RunEventRecord(
          type: begin.resume == nil ? "attempt_started" : "run_resumed", step: begin.stepName,
          attempt: begin.step.attempts, atMs: timing.nowMs, status: .running), scope: scope)
    }
  }

  public func resume(_ request: ResumeRequest) async throws(StoreError) -> ResumeOutcome {
    let timing = request.timing
    let now = nowMs
    return state.withLock { state in
      // Ahead of the script, as the Redis store sends it.
      state.recovery[request.workflowID] = timing.nowMs + timing.leaseMs
      guard var run = state.live(request.workflowID, now: now) else { return .notFound }
      if case .resumed(let fence, let saved, let lapsed)? = run.replay(timing.operation) {
        return .resumed(run.read(), fence: fence, savedMicros: saved, fromLapsedLease: lapsed)
      }
      let previous = run.record.status
      guard previous == .failed || previous == .running else { return .ended(run.read()) }
      if run.leaseHolder(now: now) != nil { return .held(run.read()) }
      let definition = run.record.definition
      if let missing = definition.steps[run.record.cursor...].first(where: { !request.plugins.contains($0.plugin) }) {
        return .missingPlugin(run.read(), plugin: missing.plugin)
      }
      let fence = state.bump(&run)
      let begin = run.record.resume(fence: fence, timing: timing)
      let saved = begin.resume?.savedMicros ?? 0
      state.progress(
        &run, fence: fence, timing: timing, now: now,
        event: RunEventRecord(
          type: "run_resumed", step: begin.stepName, attempt: begin.step.attempts, atMs: timing.nowMs, status: .running))
      let reply = Reply.resumed(fence: fence, savedMicros: saved, fromLapsedLease: previous == .running)
      run.applied(timing.operation, reply)
      state.runs[request.workflowID] = run
      return .resumed(run.read(), fence: fence, savedMicros: saved, fromLapsedLease: previous == .running)
    }
  }

  public func commitStep(_ commit: StepCommit) async throws(StoreError) {
    let timing = commit.timing
    let now = nowMs
    try state.withLock { state throws(StoreError) in
      let cursor = commit.branchCursor == nil ? commit.cursor : StepCommit.branch
      let scope = State.scope(cursor: cursor, step: commit.stepName)
      if state.live(commit.workflowID, now: now)?.replay(timing.operation, scope: scope) != nil { return }
      var run = try state.enter(commit.workflowID, fence: commit.fence, cursor: cursor, now: now)
      run.artifacts[commit.stepName] = commit.artifact
      run.setStep(commit.stepName, commit.step)
      run.heldArtifact = nil
      var begun: RunEventRecord?
      if let branchCursor = commit.branchCursor {
        // A parallel run's branch: the run goes on; its cursor only moves forward.
        run.record.cursor = max(run.record.cursor, branchCursor)
        if let next = commit.next {
          // A map item's lane begins its next item along, with that begin's event.
          run.setStep(next.name, next.step)
          begun = RunEventRecord(
            type: "attempt_started", step: next.name, attempt: next.step.attempts, atMs: timing.nowMs, status: .running)
        }
      } else if let next = commit.next {
        run.record.cursor = commit.cursor + 1
        run.setStep(next.name, next.step)
      } else {
        run.record.cursor = commit.cursor + 1
        run.record.status = .completed
      }
      run.record.updatedAtMs = timing.nowMs
      run.record.expiresAtMs = timing.nowMs + timing.ttlMs
      if !commit.history.isEmpty {
        // Appended, then trimmed from the oldest end to the cap.
        run.history += commit.history
        let cap = max(1, commit.maxHistoryMessages)
        if run.history.count > cap { run.history.removeFirst(run.history.count - cap) }
      }
      run.charge(commit.usage)
      state.progress(
        &run, fence: commit.fence, timing: timing, now: now,
        event: RunEventRecord(
          type: "step_committed", step: commit.stepName, attempt: commit.step.attempts, atMs: timing.nowMs,
          status: commit.next == nil && commit.branchCursor == nil ? .completed : .running), then: begun,
        scope: scope)
    }
  }

  public func completeParallelRun(_ end: ParallelRunEnd) async throws(StoreError) {
    let timing = end.timing
    let now = nowMs
    try state.withLock { state throws(StoreError) in
      if state.live(end.workflowID, now: now)?.replay(timing.operation) != nil { return }
      var run = try state.enter(end.workflowID, fence: end.fence, cursor: nil, now: now)
      run.record.status = .completed
      run.record.cursor = end.stepCount
      run.record.updatedAtMs = timing.nowMs
      run.record.expiresAtMs = timing.nowMs + timing.ttlMs
      state.progress(
        &run, fence: end.fence, timing: timing, now: now,
        event: RunEventRecord(type: "run_completed", step: "", attempt: 0, atMs: timing.nowMs, status: .completed))
    }
  }

  public func recordWait(_ wait: StepWait) async throws(StoreError) {
    try recordStep(
      AttemptFailure(
        workflowID: wait.workflowID, fence: wait.fence, cursor: wait.cursor, stepName: wait.stepName,
        step: wait.step, usage: StepUsage(), runError: nil, timing: wait.timing),
      event: "step_waiting")
  }

  public func recordFailure(_ failure: AttemptFailure) async throws(StoreError) {
    try recordStep(failure, event: failure.runError == nil ? "attempt_failed" : "run_failed")
  }

  /// A step's record after an attempt failed or while it waits (Redis: the `fail` script).
  private func recordStep(_ failure: AttemptFailure, event: String) throws(StoreError) {
    let timing = failure.timing
    let now = nowMs
    try state.withLock { state throws(StoreError) in
      let scope = State.scope(cursor: failure.cursor, step: failure.stepName)
      if state.live(failure.workflowID, now: now)?.replay(timing.operation, scope: scope) != nil { return }
      var run = try state.enter(failure.workflowID, fence: failure.fence, cursor: failure.cursor, now: now)
      run.setStep(failure.stepName, failure.step)
      run.charge(failure.usage)
      if let runError = failure.runError {
        run.record.status = .failed
        run.record.error = runError
      }
      run.record.updatedAtMs = timing.nowMs
      run.record.expiresAtMs = timing.nowMs + timing.ttlMs
      state.progress(
        &run, fence: failure.fence, timing: timing, now: now,
        event: RunEventRecord(
          type: event, step: failure.stepName, attempt: failure.step.attempts, atMs: timing.nowMs,
          message: (event == "step_waiting" ? failure.step.waitReason : failure.step.lastError) ?? "",
          nextAttemptAtMs: failure.step.nextAttemptAtMs, status: failure.runError == nil ? .running : .failed),
        scope: scope)
    }
  }

  // MARK: - Approvals

  public func requestApproval(_ request: ApprovalRequest) async throws(StoreError) {
    let timing = request.timing
    let approval = request.approval
    let now = nowMs
    try state.withLock { state throws(StoreError) in
      // Due at the deadline: the recovery check then fails the unanswered run.
      state.recovery[request.workflowID] = approval.deadlineMs
      if state.live(request.workflowID, now: now)?.replay(timing.operation) != nil { return }
      var run = try state.enter(request.workflowID, fence: request.fence, cursor: approval.cursor, now: now)
      run.setStep(approval.stepName, request.step)
      run.record.status = approval.runStatus
      var stored = approval
      stored.held?.artifact = []
      run.record.approval = stored
      if let artifact = approval.held?.artifact, !artifact.isEmpty { run.heldArtifact = artifact }
      run.record.updatedAtMs = timing.nowMs
      run.record.expiresAtMs = timing.nowMs + timing.ttlMs
      run.charge(request.usage)
      // Nobody drives a run waiting for a person: the lease is given up.
      run.lease = nil
      state.append(
        RunEventRecord(
          type: "approval_requested", step: approval.stepName, attempt: request.step.attempts, atMs: timing.nowMs,
          message: approval.requestMessage, status: approval.runStatus),
        to: &run)
      run.expiresAtMs = now + timing.ttlMs
      run.applied(timing.operation, .written)
      state.runs[request.workflowID] = run
    }
  }

  public func answerApproval(_ answer: ApprovalAnswer, lease: Duration) async throws(StoreError) -> ApprovalOutcome {
    let timing = answer.timing
    let now = nowMs
    return state.withLock { state in
      // Approved: RUNNING again, so back in the index (a superset: harmless if refused).
      if answer.approve { state.recovery[answer.workflowID] = timing.nowMs + lease.wholeMilliseconds }
      guard var run = state.live(answer.workflowID, now: now) else { return .notFound }
      switch run.replay(timing.operation) {
      case .approved(let fence, var approval)?:
        // The held artifact is read again (it stays until the approving runner commits it).
        approval.held?.artifact = run.heldArtifact ?? []
        return .approved(fence: fence, approval: approval)
      case .rejected?: return .rejected
      default: break
      }
      guard run.record.status == answer.answers, var approval = run.record.approval else {
        return .refused("the run is \(run.record.status.rawValue)\(answer.refusalAfterStatus)")
      }
      guard approval.token == answer.token else {
        return .refused("the token is not the one of the approval the run awaits (an approval token works once)")
      }
      run.record.approval = nil
      let event = RunEventRecord(
        type: answer.eventType, step: approval.stepName, atMs: timing.nowMs,
        message: answer.eventMessage, status: answer.approve ? .running : .failed)
      guard answer.approve else {
        run.record.status = .failed
        run.record.error = answer.rejectionBeforeStep + approval.stepName + answer.rejectionAfterStep
        run.record.updatedAtMs = timing.nowMs
        run.record.expiresAtMs = timing.nowMs + timing.ttlMs
        run.heldArtifact = nil
        state.append(event, to: &run)
        run.expiresAtMs = now + timing.ttlMs
        run.applied(timing.operation, .rejected)
        state.runs[answer.workflowID] = run
        return .rejected
      }
      let fence = state.bump(&run)
      run.lease = Lease(fence: fence, untilMs: now + lease.wholeMilliseconds)
      run.record.status = .running
      run.record.updatedAtMs = timing.nowMs
      if approval.kind == .before { run.record.approvedCursor = approval.cursor }
      if case .raise(let micros)? = answer.budget { run.record.budgetMicros = micros }
      state.append(event, to: &run)
      run.applied(timing.operation, .approved(fence: fence, approval: approval))
      state.runs[answer.workflowID] = run
      approval.held?.artifact = run.heldArtifact ?? []
      return .approved(fence: fence, approval: approval)
    }
  }

  // MARK: - Operating runs

  public func cancel(_ cancel: RunCancel) async throws(StoreError) -> CancelOutcome {
    let timing = cancel.timing
    let now = nowMs
    return state.withLock { state in
      // Ahead of the write: a cancelled run is never recovered, so its entry goes whatever follows.
      state.recovery[cancel.workflowID] = nil
      guard var run = state.live(cancel.workflowID, now: now) else { return .notFound }
      if case .cancelled(let previous)? = run.replay(timing.operation) { return .cancelled(previous: previous) }
      let previous = run.record.status
      if previous == .completed || previous == .cancelled { return .ended(previous) }
      // A runner still at work can write nothing more, and its renewal fails.
      _ = state.bump(&run)
      run.record.status = .cancelled
      run.record.error = cancel.reason
      run.record.updatedAtMs = timing.nowMs
      run.record.expiresAtMs = timing.nowMs + timing.ttlMs
      run.lease = nil
      state.append(
        RunEventRecord(type: "run_cancelled", atMs: timing.nowMs, message: cancel.reason, status: .cancelled), to: &run)
      run.expiresAtMs = now + timing.ttlMs
      run.applied(timing.operation, .cancelled(previous: previous))
      state.runs[cancel.workflowID] = run
      return .cancelled(previous: previous)
    }
  }

  public func rerun(_ rerun: RerunBegin) async throws(StoreError) {
    let timing = rerun.timing
    let now = nowMs
    try state.withLock { state throws(StoreError) in
      state.recovery[rerun.workflowID] = timing.nowMs + timing.leaseMs
      if state.live(rerun.workflowID, now: now)?.replay(timing.operation) != nil { return }
      var run = try state.enter(
        rerun.workflowID, fence: rerun.fence, cursor: nil, now: now, statuses: [.completed, .failed])
      // Never past the first step not committed (the run's cursor).
      guard rerun.cursor <= run.record.cursor else {
        throw StoreError(.conflict, "the run is at step \(run.record.cursor); a re-run cannot start after it")
      }
      for name in rerun.discarded {
        run.artifacts[name] = nil
        if let (step, item) = RunRecord.itemField(name) { run.record.items[step]?[item] = nil }
      }
      for (name, step) in rerun.steps { run.setStep(name, step) }
      run.record.resumes += 1
      run.record.ledger.savedByResumeMicros += rerun.savedMicros
      // A re-run asks again for any approval it passes.
      run.record.error = nil
      run.record.approvedCursor = nil
      run.record.status = .running
      run.record.cursor = rerun.cursor
      run.record.updatedAtMs = timing.nowMs
      run.record.expiresAtMs = timing.nowMs + timing.ttlMs
      let step = rerun.discarded.first ?? ""
      state.progress(
        &run, fence: rerun.fence, timing: timing, now: now,
        event: RunEventRecord(
          type: "run_rerun", step: step, attempt: rerun.steps[step]?.attempts ?? 0, atMs: timing.nowMs,
          message: "re-run from step '\(step)'; its artifact and those after it were discarded", status: .running))
    }
  }
}
