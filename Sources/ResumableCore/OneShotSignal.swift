import Synchronization

/// A one-shot signal that any number of tasks can wait for, each wait
/// cancellable; it may carry a value to every waiter.
///
/// The engine's `RunCompletion` (a runner has stopped driving a run, with
/// the run's final record when it completed, so that a waiter answers
/// without reading the run again) and the tests' `ManualClock` sleeps are
/// built on it.
package final class OneShotSignal<Value: Sendable>: Sendable {
  /// The value, out of line: a signal is created with every run and lives as
  /// long as it, and a `RunRecord` inline would make each 700 bytes.
  private final class Carried: Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
  }

  private struct State {
    var finished = false
    var value: Carried?
    var nextWaiter = 0
    var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
  }

  private let state = Mutex(State())

  package init() {}

  /// Wakes every waiter, now and later; a second call changes nothing.
  /// - Parameter value: what every `wait()` returns (nil: nothing to carry).
  package func finish(with value: Value? = nil) {
    let waiters = state.withLock { state in
      guard !state.finished else { return [CheckedContinuation<Void, any Error>]() }
      state.finished = true
      state.value = value.map(Carried.init)
      defer { state.waiters = [:] }
      return Array(state.waiters.values)
    }
    for waiter in waiters { waiter.resume() }
  }

  /// Returns when `finish()` has been called, with the value it was given.
  /// - Throws: `CancellationError` when the waiting task is cancelled first.
  @discardableResult
  package func wait() async throws -> Value? {
    let id = state.withLock { state in
      defer { state.nextWaiter += 1 }
      return state.nextWaiter
    }
    try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        let resumeNow: Result<Void, any Error>? = state.withLock { state in
          if state.finished { return .success(()) }
          if Task.isCancelled { return .failure(CancellationError()) }
          state.waiters[id] = continuation
          return nil
        }
        if let resumeNow { continuation.resume(with: resumeNow) }
      }
    } onCancel: {
      let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
      waiter?.resume(throwing: CancellationError())
    }
    return state.withLock { $0.value?.value }
  }
}

/// A runner has stopped driving a run; carries the run's final record, exactly
/// as stored, when the runner knows it.
typealias RunCompletion = OneShotSignal<RunRecord>
