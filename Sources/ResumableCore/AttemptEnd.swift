import Synchronization

/// How an attempt in flight ends: the first of its plugin's answer, the loss of
/// its lease (told by the lease keeper, or by a cancel: `AttemptLeases`) and
/// its timeout. The first end wins; the later ones change nothing.
///
/// The attempt's driver waits here, on one continuation. The attempt used to
/// race three child tasks in a task group — the plugin's, one waiting for the
/// lease's loss and one sleeping out the timeout — that is, two tasks more per
/// run in flight than the plugin's own, each with its frames; now the loss is
/// told here directly, and only a step with a timeout has a second task.
///
/// - Important: `wait()` does not return on cancellation by itself: cancelling
///   the waiting task cancels the plugin's task, its child, which then ends the
///   attempt (`.cancelled`, or whatever the plugin answers first).
final class AttemptEnd: Sendable {
  private enum State {
    /// Not ended yet; the driver waits when it has a continuation here.
    case running(CheckedContinuation<StepMachine.AttemptOutcome, Never>?)
    /// Ended before the driver waited.
    case ended(StepMachine.AttemptOutcome)
    /// Ended, and the driver has its outcome.
    case taken
  }

  private let state = Mutex(State.running(nil))

  /// Ends the attempt with `outcome`, unless it has ended already.
  func end(_ outcome: StepMachine.AttemptOutcome) {
    let waiter = state.withLock { state -> CheckedContinuation<StepMachine.AttemptOutcome, Never>? in
      guard case .running(let waiter) = state else { return nil }
      state = waiter == nil ? .ended(outcome) : .taken
      return waiter
    }
    waiter?.resume(returning: outcome)
  }

  /// Returns the attempt's outcome once it has ended. Awaited once, by the attempt's driver.
  func wait() async -> StepMachine.AttemptOutcome {
    await withCheckedContinuation { (continuation: CheckedContinuation<StepMachine.AttemptOutcome, Never>) in
      let ended = state.withLock { state -> StepMachine.AttemptOutcome? in
        switch state {
        case .running(nil):
          state = .running(continuation)
          return nil
        case .ended(let outcome):
          state = .taken
          return outcome
        case .running, .taken:
          preconditionFailure("an attempt's end is awaited once")
        }
      }
      if let ended { continuation.resume(returning: ended) }
    }
  }
}
