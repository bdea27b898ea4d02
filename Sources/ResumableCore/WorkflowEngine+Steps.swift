import Logging

/// What happens around one step: its history, its circuit breaker, its
/// retry waits (the runner itself is `WorkflowEngine.drive`).
extension WorkflowEngine {
  /// How long to wait before the next attempt after `failure`, and why.
  struct RetryDelay: Hashable, Sendable {
    var duration: Duration
    var reason: String
  }

  /// Exponential backoff with full jitter, capped; a rate limit's retry-after
  /// is a floor the wait never goes under.
  static func retryDelay(after failure: StepFailure, policy: RetryPolicy, attempt: Int) -> RetryDelay {
    if case .rateLimited(let retryAfter) = failure.errorClass {
      let duration = policy.backoff(afterAttempt: attempt, retryAfter: retryAfter)
      return RetryDelay(
        duration: duration,
        reason: "rate limited: the next attempt waits \(duration.wholeMilliseconds) ms (retry-after \(retryAfter.wholeMilliseconds) ms)")
    }
    let duration = policy.backoff(afterAttempt: attempt)
    return RetryDelay(
      duration: duration,
      reason: "retryable failure: the next attempt waits a backoff of \(duration.wholeMilliseconds) ms")
  }

  /// The run's history as the step's policy lets through (none by default).
  func loadHistory(_ step: StepDefinition, record: RunRecord) async throws -> [HistoryMessage] {
    let newest = step.history.newestCount
    if newest == 0 { return [] }
    return try await retryingStore {
      try await self.store.history(workflowID: record.workflowID, newest: newest)
    }
  }

  /// Waits until the circuit of `plugin` admits the attempt of the step at
  /// `index`. While it waits, no attempt is begun (one begun already is given
  /// back: it never ran), the step's state is `WAITING` with the reason, and
  /// the lease is kept. Returns whether the attempt is the circuit's probe,
  /// or nil when the runner must stop (shutdown, lease lost, store down).
  func awaitCircuit(plugin: String, record: inout RunRecord, index: Int, logger: Logger) async -> Bool? {
    var waited = false
    while true {
      switch breakers.admit(plugin) {
      case .proceed(let probe):
        guard waited else { return probe }
        let begun = record.steps[index].beginningAttempt(at: Self.nowMilliseconds())
        let begin = AttemptBegin(
          workflowID: record.workflowID, fence: record.fence, cursor: index,
          stepName: record.definition.steps[index].name, step: begun, resume: nil, timing: writeTiming())
        guard await write(record, logger: logger, { try await self.store.beginAttempt(begin) }) else {
          breakers.record(plugin, .neutral, probe: probe)
          return nil
        }
        record.steps[index] = begun
        logger.info("circuit of plugin '\(plugin)' admits the step\(probe ? " (half-open probe)" : "")")
        return probe
      case .wait(let until, let reason):
        let remaining = until - .now
        if !waited {
          waited = true
          let timing = writeTiming()
          var waiting = record.steps[index]
          if waiting.status == .running, waiting.attempts > 0 { waiting.attempts -= 1 }
          waiting.status = .waiting
          waiting.waitReason = reason
          waiting.nextAttemptAtMs = timing.nowMs + max(remaining, .zero).wholeMilliseconds
          let write = StepWait(
            workflowID: record.workflowID, fence: record.fence, cursor: index,
            stepName: record.definition.steps[index].name, step: waiting, timing: timing)
          guard await self.write(record, logger: logger, { try await self.store.recordWait(write) }) else {
            return nil
          }
          record.steps[index] = waiting
          logger.notice("step waits: \(reason)")
        }
        guard await sleepHoldingLease(record, for: max(remaining, .milliseconds(1))), !isDraining else {
          await release(record)
          return nil
        }
      }
    }
  }

  /// Sleeps for `delay` while keeping the run's lease (renewed every third of
  /// its duration), so a long wait — a rate limit's retry-after, an open
  /// circuit — never lets another server take the run over. Returns false
  /// when the task is cancelled, the lease is lost, or shutdown begins.
  func sleepHoldingLease(_ record: RunRecord, for delay: Duration) async -> Bool {
    let lease = configuration.leaseDuration
    let end = ContinuousClock.now + delay
    var renewAt = ContinuousClock.now + lease / 3
    while true {
      let now = ContinuousClock.now
      if now >= end { return true }
      // Wake at least every 250 ms to notice a shutdown.
      let next = min(end, renewAt, now + .milliseconds(250))
      do {
        try await Task.sleep(until: next, clock: .continuous)
      } catch {
        return false
      }
      if isDraining && ContinuousClock.now < end { return false }
      if ContinuousClock.now >= renewAt {
        let renewed = try? await store.renewLease(
          workflowID: record.workflowID, fence: record.fence, ttl: lease, runTTL: configuration.retention(nil))
        if renewed == false { return false }
        renewAt = ContinuousClock.now + lease / 3
      }
    }
  }
}

extension WorkflowEngine.AttemptOutcome {
  /// What the attempt says about the plugin's health.
  var breakerOutcome: CircuitBreakers.Outcome {
    switch self {
    case .succeeded: .success
    case .failed(let failure): failure.retryable ? .failure : .neutral
    case .cancelled, .leaseLost: .neutral
    }
  }
}
