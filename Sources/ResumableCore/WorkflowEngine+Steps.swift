import Logging

/// What happens around one step: its history, its retry delays, its waits
/// holding the lease (the runner itself is `StepMachine`, performed by
/// `WorkflowEngine.drive`).
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

  /// Sleeps for `delay` while keeping the run's lease (renewed every third of
  /// its duration), so a long wait — a rate limit's retry-after, an open
  /// circuit — never lets another server take the run over. Returns false
  /// when the task is cancelled, the lease is lost, or shutdown begins.
  func sleepHoldingLease(workflowID: String, fence: UInt64, for delay: Duration) async -> Bool {
    let lease = configuration.leaseDuration
    let end = clock.now + delay
    var renewAt = clock.now + lease / 3
    while true {
      let now = clock.now
      if now >= end { return true }
      // Wake at least every 250 ms to notice a shutdown.
      let next = min(end, renewAt, now + .milliseconds(250))
      do {
        try await clock.sleep(until: next)
      } catch {
        return false
      }
      if isDraining && clock.now < end { return false }
      if clock.now >= renewAt {
        let renewed = try? await store.renewLease(
          workflowID: workflowID, fence: fence, ttl: lease, runTTL: configuration.retention(nil))
        if renewed == false { return false }
        renewAt = clock.now + lease / 3
      }
    }
  }
}

extension StepMachine.AttemptOutcome {
  /// What the attempt says about the plugin's health.
  var breakerOutcome: CircuitBreakers.Outcome {
    switch self {
    case .succeeded: .success
    case .failed(let failure): failure.retryable ? .failure : .neutral
    case .cancelled, .leaseLost: .neutral
    }
  }
}
