import Synchronization

/// Tells the watches in flight that the server is shutting down, so each
/// ends its stream (with `UNAVAILABLE`) and the connection can close.
final class WatchShutdown: Sendable {
  private struct State {
    var shutDown = false
    var nextWaiter = 0
    var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
  }

  private let state = Mutex(State())

  /// Wakes every watch, now and from now on.
  func shutDown() {
    let waiters = state.withLock { state in
      state.shutDown = true
      defer { state.waiters = [:] }
      return state.waiters
    }
    for waiter in waiters.values { waiter.resume() }
  }

  /// Returns when the server begins shutting down, or when the calling task
  /// is cancelled.
  func wait() async {
    let id = state.withLock { state in
      defer { state.nextWaiter += 1 }
      return state.nextWaiter
    }
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        // Cancelled before this point: the handler found no waiter to wake,
        // but the task's flag is set already.
        let now = state.withLock { state in
          if state.shutDown || Task.isCancelled { return true }
          state.waiters[id] = continuation
          return false
        }
        if now { continuation.resume() }
      }
    } onCancel: {
      state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
    }
  }
}
