import ResumableCore

extension InMemoryStateStore {
  /// A run's lease: the fencing token holding it, until when (store clock, ms).
  struct Lease {
    var fence: UInt64
    var untilMs: Int64
  }

  /// The first reply of a write, returned again to a repeat of its operation id.
  enum Reply: Equatable {
    case created(fence: UInt64)
    case written
    case cancelled(previous: RunRecord.Status)
    /// The approval as it was answered (its held artifact is read again on a repeat).
    case approved(fence: UInt64, approval: PendingApproval)
    case rejected
    case resumed(fence: UInt64, savedMicros: Int64, fromLapsedLease: Bool)
  }

  /// Everything stored of one run (Redis: its six keys).
  struct StoredRun {
    /// The run hash and step records. `approval`'s held artifact lives in `heldArtifact`;
    /// `artifacts` and `history` live beside it.
    var record: RunRecord
    /// When every key of the run expires, on the store's clock (Redis: PEXPIRE).
    var expiresAtMs: Int64
    var artifacts: [String: [UInt8]] = [:]
    var history: [HistoryEntry] = []
    var events: [(position: UInt64, event: RunEventRecord)] = []
    var lease: Lease?
    var heldArtifact: [UInt8]?
    /// The last operation applied, with its reply, per scope: "" for the run,
    /// a step's name for a parallel run's branch (Redis: `op`, `op:STEP`).
    var lastOperations: [String: (id: String, reply: Reply)] = [:]

    /// The run as `load` reads it: its held artifact and history length
    /// always, its artifacts, history and input when asked for.
    func read(artifacts: Bool = false, history: Bool = false, input: Bool = true) -> RunRecord {
      var record = self.record
      record.approval?.held?.artifact = heldArtifact ?? []
      record.historyLength = self.history.count
      if artifacts { record.artifacts = self.artifacts }
      if history { record.history = self.history }
      if !input { record.input = [] }
      return record
    }

    /// The fencing token holding a lease that has not lapsed.
    func leaseHolder(now: Int64) -> UInt64? {
      guard let lease, lease.untilMs > now else { return nil }
      return lease.fence
    }

    /// The first reply of `operation`, if it is the last one applied.
    func replay(_ operation: String, scope: String = "") -> Reply? {
      guard let last = lastOperations[scope], last.id == operation else { return nil }
      return last.reply
    }

    mutating func applied(_ operation: String, _ reply: Reply, scope: String = "") {
      lastOperations[scope] = (operation, reply)
    }

    /// Every key of the run lives until `untilMs`, and the run says so.
    mutating func touch(until untilMs: Int64) {
      expiresAtMs = untilMs
      record.expiresAtMs = untilMs
    }

    /// Writes the record of the step named `name` (HSET: a name the definition lacks is kept nowhere).
    mutating func setStep(_ name: String, _ step: StepProgress) {
      guard let index = record.definition.steps.firstIndex(where: { $0.name == name }) else {
        // A map step's item (`STEP[INDEX]`), read back as the run's items.
        if let (parent, item) = RunRecord.itemField(name), record.definition.steps.contains(where: { $0.name == parent && $0.map != nil }) {
          record.items[parent, default: [:]][item] = step
        }
        return
      }
      record.steps[index] = step
    }

    mutating func charge(_ usage: StepUsage) {
      record.ledger.charge(usage)
    }
  }

  struct State {
    var runs: [String: StoredRun] = [:]
    /// The recovery index: workflow id → when its check falls due (ms).
    var recovery: [String: Int64] = [:]
    /// The list of runs: workflow id → creation time (ms), read newest first.
    var runList: [String: Int64] = [:]
    /// The highest fencing token each id was given, kept after its run expired.
    var highestFence: [String: UInt64] = [:]
    var registered: [String: (definition: WorkflowDefinition, version: UInt32)] = [:]
    /// The last event position handed out (positions never repeat in a store).
    var lastEvent: UInt64 = 0
    /// Spend windows: their minute parts (minute → micro-dollars).
    var spend: [SpendWindow: [Int64: Int64]] = [:]
    /// Shared limiters, by name and key.
    var limiters: [LimiterID: LimiterState] = [:]

    /// The run `id` unless it expired (an expired one is dropped, as Redis' keys are).
    mutating func live(_ id: String, now: Int64) -> StoredRun? {
      guard let run = runs[id] else { return nil }
      guard run.expiresAtMs > now else {
        runs[id] = nil
        return nil
      }
      return run
    }

    /// A new fencing token for `run`.
    mutating func bump(_ run: inout StoredRun) -> UInt64 {
      run.record.fence += 1
      highestFence[run.record.workflowID] = max(highestFence[run.record.workflowID] ?? 0, run.record.fence)
      return run.record.fence
    }

    /// Appends an event to the run's log (the newest 1000 kept, as the stream's MAXLEN).
    mutating func append(_ event: RunEventRecord, to run: inout StoredRun) {
      lastEvent += 1
      run.events.append((lastEvent, event))
      if run.events.count > 1000 { run.events.removeFirst(run.events.count - 1000) }
    }

    /// The opening of a write by the runner holding the lease (Redis: `enter`,
    /// or `check` for `statuses` other than RUNNING alone): the run, or why not.
    mutating func enter(
      _ workflowID: String, fence: UInt64, cursor: Int?, now: Int64, statuses: Set<RunRecord.Status> = [.running]
    ) throws(StoreError) -> StoredRun {
      guard let run = live(workflowID, now: now) else {
        throw StoreError(.notFound, "the run does not exist (it may have expired)")
      }
      guard run.record.fence == fence else {
        throw StoreError(.fenced, "the run is owned by fencing token \(run.record.fence), not \(fence)")
      }
      if let cursor, cursor != StepCommit.branch, run.record.cursor != cursor {
        throw StoreError(.conflict, "the run is at step \(run.record.cursor), not \(cursor)")
      }
      guard statuses.contains(run.record.status) else {
        throw StoreError(.conflict, "the run is \(run.record.status.rawValue)")
      }
      return run
    }

    /// The end of every write by a runner (Redis: `progress`): it keeps its
    /// lease, logs the event, refreshes the run's expiry; the operation is noted.
    mutating func progress(
      _ run: inout StoredRun, fence: UInt64, timing: WriteTiming, now: Int64, event: RunEventRecord,
      then second: RunEventRecord? = nil, scope: String = ""
    ) {
      run.lease = Lease(fence: fence, untilMs: now + timing.leaseMs)
      append(event, to: &run)
      if let second { append(second, to: &run) }
      run.expiresAtMs = now + timing.ttlMs
      run.applied(timing.operation, .written, scope: scope)
      runs[run.record.workflowID] = run
    }

    /// The replay scope of a runner's write (Redis: `scopeof`).
    static func scope(cursor: Int, step: String) -> String { cursor == StepCommit.branch ? step : "" }
  }
}

/// A limiter's identity in the in-memory store: its name and rendered key.
struct LimiterID: Hashable {
  var name: String
  var key: String?
}

/// What a limiter holds (the fields of the Redis store's limiter hash).
struct LimiterState {
  /// A rate's theoretical arrival time.
  var tat: Double?
  /// A token bucket's tokens, and when they were counted.
  var tokens: Double?
  var at: Int64?
  /// Concurrency slots: holder → lease end (ms).
  var holders: [String: Int64] = [:]
  /// A provider's retry-after: every attempt waits until then.
  var hold: Int64 = 0
}
