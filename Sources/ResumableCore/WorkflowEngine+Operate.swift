import Foundation

/// Operating runs: cancel, re-run from a step, list, health.
extension WorkflowEngine {
  /// Cancels a run: it becomes CANCELLED (not resumable), its step in flight is
  /// stopped — here at once, on another server when its next lease renewal or write
  /// finds the fencing token moved — and nothing it was doing is committed.
  /// - Throws: NOT_FOUND; FAILED_PRECONDITION for a COMPLETED run. Cancelling a
  ///   cancelled run returns it as it is.
  public func cancel(workflowID: String, reason: String) async throws(EngineError) -> RunRecord {
    if let problem = WorkflowID.problem(with: workflowID) { throw EngineError(.invalidArgument, problem) }
    let why = reason.isEmpty ? "cancelled by request" : "cancelled: \(reason.prefix(1000))"
    let cancel = RunCancel(workflowID: workflowID, reason: why, timing: writeTiming(ending: .cancelled))
    let outcome = try await EngineError.answering(about: workflowID) {
      try await retryingStore { try await self.store.cancel(cancel) }
    }
    switch outcome {
    case .notFound:
      throw .runNotFound(workflowID)
    case .ended(.completed):
      throw EngineError(.failedPrecondition, "run '\(workflowID)' has completed; there is nothing to cancel")
    case .ended, .cancelled:
      break
    }
    if case .cancelled(let previous) = outcome {
      logger.info("run cancelled", metadata: ["workflow_id": "\(workflowID)", "was": "\(previous.rawValue)"])
      // Driven here: its attempt's lease is lost now, which stops the step at once
      // (elsewhere, the keeper's next renewal finds the moved fencing token).
      attemptLeases.revoke(workflowID: workflowID)
    }
    return try await loadExisting(workflowID)
  }

  /// Runs a COMPLETED or FAILED run again from step `stepName`: the artifacts of
  /// the steps before it are kept, its own and the later ones are discarded, and the
  /// run goes on from it. The one explicit way around "a committed step never runs
  /// again"; recorded in the run's events (`run_rerun`).
  func rerun(workflowID id: String, from stepName: String, wait: Bool) async throws(EngineError) -> RunRecord {
    let existing = try await loadExisting(id)
    guard let cursor = existing.definition.steps.firstIndex(where: { $0.name == stepName }) else {
      let names = existing.definition.steps.map(\.name).joined(separator: ", ")
      throw EngineError(.invalidArgument, "run '\(id)' has no step named '\(stepName.prefix(100))'; its steps are \(names)")
    }
    switch existing.status {
    case .completed, .failed:
      break
    case .running:
      throw EngineError(
        .failedPrecondition, "run '\(id)' is running; re-run a step once it has completed or failed (or cancel it)")
    case .awaitingApproval:
      throw EngineError(.failedPrecondition, "run '\(id)' is awaiting approval; approve or reject it first")
    case .awaitingBudget:
      throw EngineError(.failedPrecondition, "run '\(id)' is awaiting budget; raise its budget or reject it first")
    case .cancelled:
      throw EngineError(.failedPrecondition, "run '\(id)' was cancelled and cannot run again; start a new run")
    }
    let definition = existing.definition
    // The steps it runs again: from the step on in list order; in a parallel
    // workflow, the step and everything downstream of it in the DAG.
    let again = definition.parallelism == nil ? Set(cursor..<definition.steps.count) : definition.downstream(of: cursor)
    if definition.parallelism != nil {
      // Its dependencies must have committed (it reads them); the rest may be anything.
      let missing = definition.dependencies(of: definition.steps[cursor]).filter { name in
        definition.stepIndex(named: name).map { existing.steps[$0].status != .completed } ?? false
      }
      if let first = missing.first {
        throw EngineError(
          .failedPrecondition,
          "run '\(id)' cannot re-run from step '\(stepName)': step '\(first)', which it waits for, has not completed (nothing was changed)")
      }
    } else if let unfinished = existing.steps.firstIndex(where: { $0.status != .completed }), cursor > unfinished {
      let names = existing.definition.steps[...unfinished].map(\.name).joined(separator: ", ")
      throw EngineError(
        .failedPrecondition,
        "run '\(id)' cannot re-run from step '\(stepName)': step '\(existing.definition.steps[unfinished].name)' before it has not completed; re-run from one of: \(names) (nothing was changed)")
    }
    try checkAcceptingRuns()
    let fence = try await acquireEnded(id)
    var record: RunRecord
    do {
      guard let fresh = try await store.load(workflowID: id, includeArtifacts: false) else { throw StoreError(.notFound, "") }
      record = fresh
      let timing = writeTiming()
      var saved: Int64 = 0
      var steps: [String: StepProgress] = [:]
      for index in record.steps.indices where !again.contains(index) && record.steps[index].status == .completed {
        saved += record.steps[index].committedCostMicros
        record.steps[index].savedMicros += record.steps[index].committedCostMicros
        steps[record.definition.steps[index].name] = record.steps[index]
      }
      var discarded: [String] = []
      for index in [cursor] + again.sorted().filter({ $0 != cursor }) {
        // Attempt numbers keep growing, so every new attempt has a new idempotency key.
        var reset = StepProgress(attempts: record.steps[index].attempts)
        if index == cursor { reset = reset.beginningAttempt(at: timing.nowMs) }
        record.steps[index] = reset
        let step = record.definition.steps[index]
        steps[step.name] = reset
        discarded.append(step.name)
        // A map step's items go with it.
        discarded += (record.items[step.name] ?? [:]).keys.sorted().map(step.itemName)
        record.items[step.name] = nil
      }
      try await store.rerun(
        RerunBegin(
          workflowID: id, fence: fence, cursor: cursor, discarded: discarded, steps: steps, savedMicros: saved,
          timing: timing))
      record.status = .running
      record.cursor = cursor
      record.error = nil
      record.approvedCursor = nil  // A re-run asks again for the approvals it passes.
      record.fence = fence
      record.resumes += 1
      record.ledger.savedByResumeMicros += saved
      record.updatedAtMs = timing.nowMs
      logger.notice(
        "run re-run from a step", metadata: ["workflow_id": "\(id)", "step": "\(stepName)", "saved_micros": "\(saved)"])
    } catch {
      try? await store.releaseLease(workflowID: id, fence: fence, runEnded: false)
      throw EngineError(error, workflowID: id)
    }
    let completion = try await submit(record)
    return try await finish(record, completion: completion, wait: wait)
  }

  /// A page of runs, newest first.
  /// - Parameter cursor: `RunPage.nextCursor` of the previous page.
  public func list(status: RunRecord.Status?, workflow: String?, limit: Int, cursor: String?) async throws(EngineError) -> RunPage {
    if let cursor, !cursor.isEmpty {
      let parts = cursor.split(separator: ":", maxSplits: 1)
      guard parts.count == 2, Int64(parts[0]) != nil, WorkflowID.problem(with: String(parts[1])) == nil else {
        throw EngineError(.invalidArgument, "the cursor '\(cursor.prefix(80))' is not one a list returned; start without one")
      }
    }
    guard limit >= 0, limit <= 1000 else {
      throw EngineError(.invalidArgument, "the page size must be from 1 to 1000 (0: the default, 50)")
    }
    let query = RunQuery(status: status, workflow: workflow, limit: limit == 0 ? 50 : limit, cursor: cursor)
    return try await EngineError.answering(about: "") { try await store.listRuns(query) }
  }

  /// What `Health` reports.
  public struct Health: Sendable {
    /// The store's round trip, or why it failed.
    public var store: Result<Duration, StoreError>
    public var runsInFlight: Int
    public var uptime: Duration
    public var draining: Bool
    /// The server's spend guard and what its window holds (every server's
    /// spending in the last hour); nil without a guard, or when unreadable.
    public var spendGuard: (capMicros: Int64, spentMicros: Int64)?

    /// Serving: the store answers and the server is not shutting down.
    public var serving: Bool {
      guard case .success = store else { return false }
      return !draining
    }
  }

  /// The engine's health: a store round trip, runs in flight, uptime.
  public func health() async -> Health {
    let store: Result<Duration, StoreError>
    do {
      store = .success(try await self.store.ping())
    } catch {
      store = .failure(error)
    }
    var spendGuard: (Int64, Int64)?
    if let cap = configuration.maxSpendPerHourMicros,
      let reading = try? await self.store.readSpend(.server, nowMs: clock.epochMilliseconds)
    {
      EngineMetrics.spendWindow(cap: SpendWindow.server.cap, spentMicros: reading.spentMicros)
      spendGuard = (cap, reading.spentMicros)
    }
    return Health(
      store: store, runsInFlight: activeRuns, uptime: clock.now - startedAt,
      draining: state.withLock { $0.draining }, spendGuard: spendGuard)
  }

  /// The lease of run `id`, which has ended, for a re-run. A drive of this
  /// server that has just answered the run's end still holds it until its
  /// release lands (the release follows the answer, `ended(_:of:completion:logger:)`):
  /// that is waited for, up to `endedLeasePatience` (a second), rather than refused.
  /// A lease held anywhere else is another call changing the run: `ABORTED`.
  private func acquireEnded(_ id: String) async throws(EngineError) -> UInt64 {
    let patience = ContinuousClock.now + configuration.endedLeasePatience
    while true {
      let outcome = try await EngineError.answering(about: id) {
        try await store.acquireLease(workflowID: id, ttl: configuration.leaseDuration)
      }
      switch outcome {
      case .acquired(let token): return token
      case .notFound: throw .runNotFound(id)
      case .held:
        // Real time, not the engine's clock: what is awaited is a store write in flight.
        guard state.withLock({ $0.active[id] != nil }), ContinuousClock.now < patience,
          (try? await Task.sleep(for: .milliseconds(1))) != nil
        else { throw EngineError(.aborted, "run '\(id)' is being changed by another call; try again") }
      }
    }
  }
}
