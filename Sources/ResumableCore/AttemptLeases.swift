import Synchronization

/// The attempts in flight, whose leases one engine-wide keeper renews
/// (`WorkflowEngine.keepAttemptLeases`).
///
/// Each attempt used to renew its own lease from a child task sleeping a
/// third of the lease: a timer per attempt, which outlived the attempt by
/// seconds in the runtime's timer heap — at thousands of no-op steps a
/// second, tens of thousands of pending timers, the largest cost of a step
/// after its commit. Now an attempt registers here; one loop wakes every
/// `tick` and renews the leases not renewed (or written) for a third of the
/// lease; an attempt whose lease is lost is told through its `LeaseLoss`.
final class AttemptLeases: Sendable {
  struct Key: Hashable, Sendable {
    fileprivate let value: Int
  }

  /// One attempt's lease, as the keeper sees it.
  struct Entry: Sendable {
    let workflowID: String
    let fence: UInt64
    let loss: LeaseLoss
  }

  private struct State {
    var next = 0
    var entries: [Int: (entry: Entry, renewedAt: ContinuousClock.Instant)] = [:]
  }

  private let state = Mutex(State())

  /// Registers an attempt whose lease was just written (begun or committed).
  func register(workflowID: String, fence: UInt64) -> (Key, LeaseLoss) {
    let loss = LeaseLoss()
    let key = state.withLock { state in
      defer { state.next += 1 }
      state.entries[state.next] = (Entry(workflowID: workflowID, fence: fence, loss: loss), .now)
      return state.next
    }
    return (Key(value: key), loss)
  }

  func unregister(_ key: Key) {
    _ = state.withLock { $0.entries.removeValue(forKey: key.value) }
  }

  /// Signals the loss of every attempt of `workflowID` in flight here: its run was moved
  /// on by another write (a cancel) that the keeper's next renewal would find anyway.
  func revoke(workflowID: String) {
    let losses = state.withLock { state in
      state.entries.values.filter { $0.entry.workflowID == workflowID }.map(\.entry.loss)
    }
    for loss in losses { loss.signal() }
  }

  /// The attempts whose lease was last renewed `age` ago or more, marked renewed now.
  func due(age: Duration) -> [Entry] {
    let now = ContinuousClock.now
    return state.withLock { state in
      var due: [Entry] = []
      for (key, value) in state.entries where now - value.renewedAt >= age {
        due.append(value.entry)
        state.entries[key]?.renewedAt = now
      }
      return due
    }
  }
}

/// A one-shot signal that an attempt's lease was lost, awaited by the attempt.
final class LeaseLoss: Sendable {
  private enum State {
    case waiting(CheckedContinuation<Bool, Never>?)
    case lost
    case done
  }

  private let state = Mutex(State.waiting(nil))

  /// Signals the loss: `wait()` returns true.
  func signal() {
    let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
      guard case .waiting(let waiter) = state else { return nil }
      state = .lost
      return waiter
    }
    waiter?.resume(returning: true)
  }

  /// Returns true once the lease is lost; false when the waiting task is cancelled first.
  func wait() async -> Bool {
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
        let answer: Bool? = state.withLock { state in
          switch state {
          case .lost: return true
          case .done: return false
          case .waiting:
            if Task.isCancelled {
              state = .done
              return false
            }
            state = .waiting(continuation)
            return nil
          }
        }
        if let answer { continuation.resume(returning: answer) }
      }
    } onCancel: {
      let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
        guard case .waiting(let waiter) = state else { return nil }
        state = .done
        return waiter
      }
      waiter?.resume(returning: false)
    }
  }
}
