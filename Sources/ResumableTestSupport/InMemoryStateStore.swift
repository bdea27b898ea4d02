public import ResumableCore
import Synchronization

/// A `StateStore` in memory, for the engine's unit tests: no redis-server, and
/// time from an `EngineClock` (a `ManualClock` in tests), so leases, expiries
/// and the recovery index move only when the test moves time.
///
/// It keeps the contract of `RedisStateStore` (ResumableStore), write by write
/// as its Lua scripts do (`Scripts.swift`): fencing tokens and cursor checks,
/// one operation id per write (a repeat returns the first reply and writes
/// nothing), leases and expiries with TTLs, the recovery index (a superset of
/// the RUNNING runs), approvals, cancel, re-run, the list of runs, event logs
/// and registered workflows. `StoreConformanceTests` (ResumableStoreTests) run
/// the same assertions against both stores, so this one cannot drift.
///
/// What it leaves out: schema versions (it stores values, not a schema, so
/// nothing is ever `unsupportedSchema`), and store outages (nothing is ever
/// `unavailable`).
///
/// - Important: Tests only. Every operation takes one lock for its whole
///   effect: each is atomic, as a Lua script is in Redis.
public final class InMemoryStateStore: StateStore {
  let clock: any EngineClock
  let state = Mutex(State())
  /// Awaited before every `releaseLease` takes effect: a test holds a release
  /// back (a slow Redis) to open the window between a run's answer and its release.
  let beforeRelease: @Sendable () async -> Void

  /// - Parameters:
  ///   - clock: the store's time: lease and key expiries, the recovery
  ///     index's "now" (Redis' and the server's wall clocks in `RedisStateStore`).
  ///     Pass the engine's clock.
  ///   - beforeRelease: awaited before every lease release (default: nothing).
  public init(clock: any EngineClock = SystemClock(), beforeRelease: @escaping @Sendable () async -> Void = {}) {
    self.clock = clock
    self.beforeRelease = beforeRelease
  }

  /// Now on the store's clock, Unix milliseconds.
  var nowMs: Int64 { clock.epochMilliseconds }

  public func create(_ new: NewRun) async throws(StoreError) -> CreateOutcome {
    let timing = new.timing
    let now = nowMs
    return state.withLock { state in
      // Ahead of the write, as the Redis store sends them: the recovery
      // index entry (always) and the list entry (only a new one).
      state.recovery[new.workflowID] = timing.nowMs + timing.leaseMs
      if state.runList[new.workflowID] == nil { state.runList[new.workflowID] = timing.nowMs }
      if let run = state.live(new.workflowID, now: now) {
        if case .created(let fence)? = run.replay(timing.operation) { return .created(fence: fence) }
        return .exists
      }
      // Above any token an expired run of this id reached (Redis: its clock in µs).
      let fence = max(UInt64(max(0, now)) * 1000, (state.highestFence[new.workflowID] ?? 0) + 1)
      state.highestFence[new.workflowID] = fence
      var steps = new.definition.steps.map { _ in StepProgress() }
      steps[0] = new.firstStep
      var run = StoredRun(
        record: RunRecord(
          workflowID: new.workflowID, definition: new.definition, status: .running, cursor: 0, steps: steps,
          ledger: RunLedger(), input: new.input, createdAtMs: timing.nowMs, updatedAtMs: timing.nowMs,
          expiresAtMs: timing.nowMs + timing.ttlMs, fence: fence),
        expiresAtMs: now + timing.ttlMs)
      run.record.budgetMicros = new.budgetMicros
      run.lease = Lease(fence: fence, untilMs: now + timing.leaseMs)
      state.append(
        RunEventRecord(
          type: "run_started", step: new.definition.steps[0].name, attempt: 1, atMs: timing.nowMs, status: .running),
        to: &run)
      run.applied(timing.operation, .created(fence: fence))
      state.runs[new.workflowID] = run
      return .created(fence: fence)
    }
  }

  public func load(workflowID: String, includeArtifacts: Bool, includeHistory: Bool, includeInput: Bool) async throws(StoreError)
    -> RunRecord?
  {
    let now = nowMs
    return state.withLock { state in
      state.live(workflowID, now: now)?.read(artifacts: includeArtifacts, history: includeHistory, input: includeInput)
    }
  }

  public func history(workflowID: String, newest: Int?) async throws(StoreError) -> [HistoryEntry] {
    let now = nowMs
    return state.withLock { state in
      guard let history = state.live(workflowID, now: now)?.history else { return [] }
      // As LRANGE -newest -1 reads it (nil and 0: everything).
      let start = -(newest ?? 0)
      let from = start < 0 ? max(0, history.count + start) : min(start, history.count)
      return Array(history[from...])
    }
  }

  public func artifacts(workflowID: String, steps: [String]) async throws(StoreError) -> [String: [UInt8]] {
    let now = nowMs
    return state.withLock { state in
      guard let artifacts = state.live(workflowID, now: now)?.artifacts else { return [:] }
      return artifacts.filter { steps.contains($0.key) }
    }
  }

  public func ping() async throws(StoreError) -> Duration { .zero }

  // MARK: - Leases

  public func acquireLease(workflowID: String, ttl: Duration) async throws(StoreError) -> LeaseOutcome {
    let now = nowMs
    return state.withLock { state in
      guard var run = state.live(workflowID, now: now) else { return .notFound }
      if run.leaseHolder(now: now) != nil { return .held }
      let fence = state.bump(&run)
      run.lease = Lease(fence: fence, untilMs: now + ttl.wholeMilliseconds)
      state.runs[workflowID] = run
      return .acquired(fence: fence)
    }
  }

  public func renewLease(workflowID: String, fence: UInt64, ttl: Duration, runTTL: Duration) async throws(StoreError)
    -> Bool
  {
    let now = nowMs
    return state.withLock { state in
      state.recovery[workflowID] = now + ttl.wholeMilliseconds
      guard var run = state.live(workflowID, now: now), run.record.fence == fence else { return false }
      // Extended, or taken again if it lapsed unclaimed; the whole run lives `runTTL` more.
      run.lease = Lease(fence: fence, untilMs: now + ttl.wholeMilliseconds)
      run.record.expiresAtMs = now + runTTL.wholeMilliseconds
      run.expiresAtMs = now + runTTL.wholeMilliseconds
      state.runs[workflowID] = run
      return true
    }
  }

  public func releaseLease(workflowID: String, fence: UInt64, runEnded: Bool) async throws(StoreError) {
    await beforeRelease()
    let now = nowMs
    state.withLock { state in
      if runEnded {
        state.recovery[workflowID] = nil
      } else if state.recovery[workflowID] != nil {
        state.recovery[workflowID] = now
      }
      guard var run = state.live(workflowID, now: now), run.leaseHolder(now: now) == fence else { return }
      run.lease = nil
      state.runs[workflowID] = run
    }
  }

  // MARK: - Recovery

  public func recoveryCandidates(limit: Int) async throws(StoreError) -> [RecoveryCandidate] {
    let now = nowMs
    return state.withLock { state in
      state.recovery.filter { $0.value <= now }
        .sorted { ($0.value, $0.key) < ($1.value, $1.key) }
        .prefix(max(1, limit))
        .map { RecoveryCandidate(workflowID: $0.key, dueAtMs: $0.value) }
    }
  }

  public func claimForRecovery(_ candidate: RecoveryCandidate, lease: Duration, failedRetention: Duration)
    async throws(StoreError) -> RecoveryClaim
  {
    let now = nowMs
    let id = candidate.workflowID
    return state.withLock { state in
      // Clears the entry only while it has the due time the candidate read.
      func unindex() { if state.recovery[id] == candidate.dueAtMs { state.recovery[id] = nil } }
      // Checked again `left` ms from now (only an entry that exists moves).
      func reschedule(_ left: Int64) { if state.recovery[id] != nil { state.recovery[id] = now + left } }
      guard WorkflowID.problem(with: id) == nil, var run = state.live(id, now: now) else {
        unindex()
        return .gone
      }
      if run.record.status == .awaitingApproval || run.record.status == .awaitingBudget, let approval = run.record.approval {
        let left = approval.deadlineMs - now
        if left > 0 {
          reschedule(left)
          return .held
        }
        // Unanswered before its deadline: the run fails, kept for the failed-run retention.
        let reason = approval.kind == .budget
          ? "no answer to the budget stop at step \(approval.stepName) before its deadline"
          : "no answer to the approval of step \(approval.stepName) before its deadline"
        run.record.status = .failed
        run.record.error = reason
        run.record.updatedAtMs = now
        run.record.approval = nil
        run.heldArtifact = nil
        state.append(
          RunEventRecord(type: "run_approval_expired", step: approval.stepName, atMs: now, message: reason, status: .failed),
          to: &run)
        run.touch(until: now + failedRetention.wholeMilliseconds)
        state.runs[id] = run
        unindex()
        return .ended(.failed)
      }
      guard run.record.status == .running else {
        unindex()
        return .ended(run.record.status)
      }
      if let lease = run.lease, lease.untilMs > now {
        reschedule(lease.untilMs - now)
        return .held
      }
      let fence = state.bump(&run)
      run.lease = Lease(fence: fence, untilMs: now + lease.wholeMilliseconds)
      state.runs[id] = run
      return .acquired(fence: fence)
    }
  }

  public func deferRecovery(workflowID: String, by delay: Duration) async throws(StoreError) {
    let now = nowMs
    state.withLock { state in
      if state.recovery[workflowID] != nil { state.recovery[workflowID] = now + delay.wholeMilliseconds }
    }
  }

  // MARK: - Registered workflows

  public func registerWorkflow(_ definition: WorkflowDefinition) async throws(StoreError) -> (version: UInt32, changed: Bool) {
    state.withLock { state in
      if let current = state.registered[definition.name], current.definition == definition {
        return (current.version, false)
      }
      let version = (state.registered[definition.name]?.version ?? 0) + 1
      state.registered[definition.name] = (definition, version)
      return (version, true)
    }
  }

  public func registeredWorkflow(named name: String) async throws(StoreError) -> WorkflowDefinition? {
    state.withLock { $0.registered[name]?.definition }
  }

  // MARK: - Flow control

  public func addSpend(_ micros: Int64, to window: SpendWindow, nowMs: Int64) async throws(StoreError) {
    guard micros > 0 else { return }
    state.withLock { $0.spend[window, default: [:]][SpendWindow.minute(ofMs: nowMs), default: 0] += micros }
  }

  public func readSpend(_ window: SpendWindow, nowMs: Int64) async throws(StoreError) -> SpendReading {
    let oldest = SpendWindow.minute(ofMs: nowMs) - SpendWindow.minutes + 1
    return state.withLock { state in
      let parts = (state.spend[window] ?? [:]).filter { $0.key >= oldest }
      state.spend[window] = parts
      return SpendReading(parts: parts, nowMs: nowMs)
    }
  }

  public func acquireLimit(_ limiter: Limiter, holder: String, tokens: UInt64, leaseMs: Int64, nowMs: Int64) async throws(StoreError)
    -> LimitAnswer
  {
    let id = LimiterID(name: limiter.name, key: limiter.key)
    return state.withLock { state in
      var held = state.limiters[id] ?? LimiterState()
      defer { state.limiters[id] = held }
      if held.hold > nowMs { return .wait(untilMs: held.hold, why: .held) }
      switch limiter.limit.kind {
      case .rate(let count, let perMs, let burst):
        let answer = LimitMath.rate(tat: held.tat, count: count, perMs: perMs, burst: burst, nowMs: nowMs)
        guard answer.granted else { return .wait(untilMs: answer.retryAtMs, why: .rate) }
        held.tat = answer.tat
        return .granted
      case .concurrency(let slots):
        held.holders = held.holders.filter { $0.value > nowMs }
        let others = held.holders.filter { $0.key != holder }
        if others.count >= slots { return .wait(untilMs: others.values.min() ?? nowMs, why: .full) }
        held.holders[holder] = nowMs + leaseMs
        return .granted
      case .tokensPerMinute(let perMinute):
        let available = LimitMath.refilled(held.tokens, at: held.at, perMinute: perMinute, nowMs: nowMs)
        let answer = LimitMath.take(tokens, available: available, perMinute: perMinute, nowMs: nowMs)
        guard answer.granted else { return .wait(untilMs: answer.retryAtMs, why: .tokens) }
        held.tokens = available - Double(tokens)
        held.at = nowMs
        return .granted
      }
    }
  }

  public func releaseLimit(_ limiter: Limiter, holder: String, reserved: UInt64, used: UInt64?, nowMs: Int64) async throws(StoreError) {
    let id = LimiterID(name: limiter.name, key: limiter.key)
    state.withLock { state in
      guard var held = state.limiters[id] else { return }
      switch limiter.limit.kind {
      case .concurrency: held.holders[holder] = nil
      case .tokensPerMinute(let perMinute):
        guard let used else { break }
        let available = LimitMath.refilled(held.tokens, at: held.at, perMinute: perMinute, nowMs: nowMs)
        held.tokens = min(Double(perMinute), available + Double(reserved) - Double(used))
        held.at = nowMs
      case .rate: break
      }
      state.limiters[id] = held
    }
  }

  public func renewLimit(_ limiter: Limiter, holder: String, leaseMs: Int64, nowMs: Int64) async throws(StoreError) {
    let id = LimiterID(name: limiter.name, key: limiter.key)
    state.withLock { state in
      if state.limiters[id]?.holders[holder] != nil { state.limiters[id]?.holders[holder] = nowMs + leaseMs }
    }
  }

  public func holdLimit(_ limiter: Limiter, untilMs: Int64) async throws(StoreError) {
    let id = LimiterID(name: limiter.name, key: limiter.key)
    state.withLock { state in
      var held = state.limiters[id] ?? LimiterState()
      held.hold = max(held.hold, untilMs)
      state.limiters[id] = held
    }
  }
}
