import Synchronization

/// The attempts in flight, whose leases one engine-wide keeper renews
/// (`keep(lease:renew:)`, run by `WorkflowEngine.keepAttemptLeases`).
///
/// Each attempt used to renew its own lease from a child task sleeping a
/// third of the lease: a timer per attempt, which outlived the attempt by
/// seconds in the runtime's timer heap — at thousands of no-op steps a
/// second, tens of thousands of pending timers, the largest cost of a step
/// after its commit. Now an attempt registers here; one loop wakes every
/// `tick` and renews the leases not renewed (or written) for a third of the
/// lease; an attempt whose lease is lost is ended `.leaseLost` through its
/// `AttemptEnd` (no task of the attempt waits for the loss).
/// Renewals run side by side, so one stuck renewal never holds back the rest.
final class AttemptLeases: Sendable {
  struct Key: Hashable, Sendable {
    fileprivate let value: Int
  }

  /// One attempt's lease, as the keeper sees it.
  struct Entry: Sendable {
    let workflowID: String
    let fence: UInt64
    /// Ended `.leaseLost` when the lease is lost.
    let attempt: AttemptEnd
  }

  private struct State {
    var next = 0
    var entries: [Int: (entry: Entry, renewedAt: ContinuousClock.Instant)] = [:]
    /// The attempts whose renewal is queued or in flight (kept after `unregister` until
    /// it ends): not due again until it answers.
    var renewing: Set<Int> = []
    /// The renewals waiting for a worker, oldest first from `queueHead`.
    var queue: [(key: Int, entry: Entry)] = []
    var queueHead = 0
    /// The keeper's renewal tasks running.
    var workers = 0
  }

  private let state = Mutex(State())

  /// Registers an attempt whose lease was just written (begun or committed).
  /// - Returns: its key, and its end, which the keeper ends `.leaseLost` if the lease is lost.
  func register(workflowID: String, fence: UInt64, now: ContinuousClock.Instant = .now) -> (Key, AttemptEnd) {
    let attempt = AttemptEnd()
    let key = state.withLock { state in
      defer { state.next += 1 }
      state.entries[state.next] = (Entry(workflowID: workflowID, fence: fence, attempt: attempt), now)
      return state.next
    }
    return (Key(value: key), attempt)
  }

  func unregister(_ key: Key) {
    _ = state.withLock { $0.entries.removeValue(forKey: key.value) }
  }

  /// Ends every attempt of `workflowID` in flight here `.leaseLost`: its run was moved
  /// on by another write (a cancel) that the keeper's next renewal would find anyway.
  func revoke(workflowID: String) {
    let attempts = state.withLock { state in
      state.entries.values.filter { $0.entry.workflowID == workflowID }.map(\.entry.attempt)
    }
    for attempt in attempts { attempt.end(.leaseLost) }
  }

  /// Queues the renewal of every lease last renewed `age` ago or more whose renewal is not
  /// out already, marking them renewed now.
  /// - Returns: How many more workers to start (`nextQueued()`), so that at most
  ///   `workers` run at once.
  func queueDue(age: Duration, workers limit: Int, now: ContinuousClock.Instant) -> Int {
    return state.withLock { state in
      for (key, value) in state.entries where now - value.renewedAt >= age && !state.renewing.contains(key) {
        state.queue.append((key, value.entry))
        state.entries[key]?.renewedAt = now
        state.renewing.insert(key)
      }
      let start = max(0, min(state.queue.count - state.queueHead, limit - state.workers))
      state.workers += start
      return start
    }
  }

  /// The next queued renewal for a worker; nil when none is left, and the worker ends.
  func nextQueued() -> (key: Key, entry: Entry)? {
    state.withLock { state in
      guard state.queueHead < state.queue.count else {
        state.queue.removeAll(keepingCapacity: true)
        state.queueHead = 0
        state.workers -= 1
        return nil
      }
      let next = state.queue[state.queueHead]
      state.queueHead += 1
      return (Key(value: next.key), next.entry)
    }
  }

  /// The renewal of `key`'s lease answered (or failed): it may be due again.
  func renewalEnded(_ key: Key) {
    _ = state.withLock { $0.renewing.remove(key.value) }
  }

  /// The keeper, until its task is cancelled: every sixth of the lease (at most a
  /// second), renews the leases not renewed for a third of it, so two renewals can fail
  /// before a lease lapses.
  ///
  /// The loop never waits for a renewal: up to 64 workers take queued renewals one at a
  /// time, and a lease whose renewal is still out is not queued again until it answers.
  /// So one stuck renewal holds only its own lease and one worker, never the others.
  ///
  /// - Parameter renew: Renews one lease: true when renewed, false when the lease is lost
  ///   (the attempt is ended `.leaseLost`), nil when the store did not answer (tried again later).
  func keep(
    lease: Duration, clock: any EngineClock = SystemClock(), renew: @escaping @Sendable (Entry) async -> Bool?
  ) async {
    let tick = min(max(lease / 6, .milliseconds(10)), .seconds(1))
    await withDiscardingTaskGroup { workers in
      while (try? await clock.sleep(for: tick)) != nil {
        // At most 64 renewals in flight: they share one pipelined connection anyway.
        for _ in 0..<queueDue(age: lease / 3, workers: 64, now: clock.now) {
          workers.addTask {
            while let (key, entry) = self.nextQueued() {
              let renewed = await renew(entry)
              self.renewalEnded(key)
              if renewed == false { entry.attempt.end(.leaseLost) }
            }
          }
        }
      }
    }
  }
}
