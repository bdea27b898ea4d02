import Synchronization

/// A one-shot signal that a runner has stopped driving a run, which any
/// number of callers can wait for (each wait is cancellable). When the run
/// completed, the signal carries its final record, exactly as stored, so a
/// waiter answers without reading the run again.
final class RunCompletion: Sendable {
  private struct State {
    var finished = false
    var record: RunRecord?
    var nextWaiter = 0
    var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
  }

  private let state = Mutex(State())

  /// Wakes every waiter, now and later; a second call changes nothing.
  /// - Parameter record: the run as stored by the runner's last write, when
  ///   the runner knows it exactly (nil: waiters read the run).
  func finish(with record: RunRecord? = nil) {
    let waiters = state.withLock { state in
      guard !state.finished else { return [CheckedContinuation<Void, any Error>]() }
      state.finished = true
      state.record = record
      defer { state.waiters = [:] }
      return Array(state.waiters.values)
    }
    for waiter in waiters { waiter.resume() }
  }

  /// Returns when `finish()` has been called, with the record it was given.
  /// - Throws: `CancellationError` when the waiting task is cancelled.
  @discardableResult
  func wait() async throws -> RunRecord? {
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
    return state.withLock { $0.record }
  }
}
