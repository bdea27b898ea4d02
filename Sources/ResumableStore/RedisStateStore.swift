import Foundation
import Synchronization
public import ResumableCore
public import ResumableRedis

/// The product's `StateStore`: runs in Redis, core commands only.
///
/// Layout (see `RunKeys`): per run a hash for the run, a hash of step
/// records, a hash of artifacts, a stream of events, a lease key and a list
/// of history messages, all under the hash tag `{workflow_id}`. Every write is one Lua script
/// (`Scripts`): fenced, all or nothing, writing only what the step changed
/// (O(size of that step's output)), and refreshing every key's expiry.
public final class RedisStateStore: StateStore {
  let client: RedisClient
  let prefix: String
  /// The first part of every key this store writes.
  public var keyPrefix: String { prefix }
  /// The recovery index's buckets (see `RunKeys.recoveryIndex(prefix:bucket:)`).
  let recoveryIndexes: [String]
  /// Every run by creation time (ms), in buckets: what `listRuns` merges, newest first.
  let runsIndexes: [String]
  /// How many replicas must have each write of a run before it counts as done (`WAIT`).
  public let waitReplicas: Int
  /// How long a write waits for them.
  public let replicaTimeout: Duration
  /// Set once the indexes an older build wrote were moved into their buckets
  /// (`moveUnbucketedIndexes`); until then each recovery pass tries again.
  let unbucketedMoved = Atomic<Bool>(false)
  /// How old (by its creation time) a run list entry must be before a missing
  /// run behind it counts as expired and the entry is removed. A run's list
  /// entry is written just ahead of the run itself (`create`), and in a cluster
  /// on another node: a reader on another connection can see the entry first,
  /// and must not take a run being created for one that expired.
  public let listEntryGrace: Duration

  /// - Parameters:
  ///   - client: the connection to Redis (shared, pipelined).
  ///   - keyPrefix: the first part of every key, so several deployments or
  ///     tests can share one Redis; must not contain `{` or `}`.
  ///   - waitReplicas: with N > 0, every script that writes a run is followed by
  ///     `WAIT N` on its connection, and a write fewer replicas acknowledged within
  ///     `replicaTimeout` fails as `unavailable` (it is idempotent: the engine retries it),
  ///     so a write reported done survives the promotion of a replica that had it.
  ///   - replicaTimeout: how long `WAIT` may take; keep it under the client's command timeout.
  ///   - listEntryGrace: see ``listEntryGrace``; far below any run's TTL (the CLI's is whole seconds).
  public init(
    client: RedisClient, keyPrefix: String = "resumable", waitReplicas: Int = 0,
    replicaTimeout: Duration = .seconds(1), listEntryGrace: Duration = .seconds(10)
  ) {
    self.client = client
    self.listEntryGrace = listEntryGrace
    self.waitReplicas = max(0, waitReplicas)
    self.replicaTimeout = replicaTimeout
    self.prefix = keyPrefix
    self.recoveryIndexes = (0..<RunKeys.bucketCount).map { RunKeys.recoveryIndex(prefix: keyPrefix, bucket: $0) }
    self.runsIndexes = (0..<RunKeys.bucketCount).map { RunKeys.runsIndex(prefix: keyPrefix, bucket: $0) }
  }

  /// The recovery index bucket run `workflowID` is in.
  func recoveryIndex(_ workflowID: String) -> String { recoveryIndexes[RunKeys.bucket(of: workflowID)] }

  /// The run list entries created before this time (ms) may be judged: a missing run
  /// behind one expired. Younger ones may be runs being created (``listEntryGrace``).
  var judgedBeforeMs: Int64 { Self.nowMilliseconds() - listEntryGrace.wholeMilliseconds }

  /// The run list bucket run `workflowID` is in.
  func runsIndex(_ workflowID: String) -> String { runsIndexes[RunKeys.bucket(of: workflowID)] }

  private func keys(_ workflowID: String) -> [RedisArgument] {
    RunKeys.scriptKeyBytes(prefix: prefix, workflowID: workflowID).map { RedisArgument($0) }
  }

  /// Runs a write script on a run's keys: its operation id first (the
  /// scripts' ARGV[1], see `Scripts.prelude`), then `arguments`.
  func write(
    _ script: RedisScript, _ workflowID: String, _ timing: WriteTiming, _ arguments: [RedisArgument],
    after commands: [[RedisArgument]] = []
  ) async throws(StoreError) -> RESPValue {
    try await run(script, workflowID, [RedisArgument(timing.operation)] + arguments, after: commands)
  }

  /// Runs a script on a run's keys, after `commands` in the same round trip; a
  /// script that may write (`writes`) waits for ``waitReplicas`` replicas.
  func run(
    _ script: RedisScript, _ workflowID: String, _ arguments: [RedisArgument],
    after commands: [[RedisArgument]] = [], writes: Bool = true
  ) async throws(StoreError) -> RESPValue {
    let replicated = writes && waitReplicas > 0
    let trailing: [[RedisArgument]] =
      replicated ? [["WAIT", RedisArgument(waitReplicas), RedisArgument(replicaTimeout.wholeMilliseconds)]] : []
    let result: (commands: [RESPValue], script: RESPValue, trailing: [RESPValue])
    do {
      result = try await client.evalScript(
        script, keys: keys(workflowID), arguments: arguments, after: commands, then: trailing)
    } catch {
      throw StoreError(redis: error)
    }
    if replicated {
      let acknowledged = result.trailing.first?.int ?? -1
      guard acknowledged >= waitReplicas else {
        let reply = result.trailing.first?.errorMessage ?? "\(max(acknowledged, 0))"
        throw StoreError(
          .unavailable,
          "a write of run '\(workflowID)' reached \(reply) of the \(waitReplicas) replica(s) required within "
            + "\(replicaTimeout.wholeMilliseconds) ms; until they have it, a failover could lose it")
      }
    }
    return result.script
  }

  /// Puts a run in the recovery index, due when a lease taken at `nowMs` lapses.
  ///
  /// Sent ahead of the write that makes the run RUNNING (or keeps it so), in
  /// the same round trip: the index is a superset of the RUNNING runs, so a
  /// server dying at any instant leaves its runs findable. An entry for a
  /// write that then failed is harmless: recovery checks and clears it.
  func index(_ workflowID: String, dueAtMs: Int64) -> [RedisArgument] {
    ["ZADD", RedisArgument(recoveryIndex(workflowID)), RedisArgument(dueAtMs), RedisArgument(workflowID)]
  }

  static func nowMilliseconds() -> Int64 {
    Int64((Date().timeIntervalSince1970 * 1000).rounded())
  }

  public func create(_ new: NewRun) async throws(StoreError) -> CreateOutcome {
    let timing = new.timing
    let definition = try DefinitionSnapshots.shared.json(of: new.definition) { definition throws(StoreError) in
      try encode(definition)
    }
    let reply = try await write(
      Scripts.create, new.workflowID, timing,
      [
        RedisArgument(timing.nowMs), RedisArgument(timing.ttlMs), RedisArgument(timing.leaseMs),
        RedisArgument(Int(RunRecord.currentSchemaVersion)), RedisArgument(new.definition.name),
        RedisArgument(definition), RedisArgument(new.input), RedisArgument(new.definition.steps[0].name),
        RedisArgument(encode(new.firstStep)),
        RedisArgument(Self.event("run_started", step: new.definition.steps[0].name, attempt: 1, at: timing.nowMs, status: .running)),
        RedisArgument(timing.nowMs + timing.ttlMs), RedisArgument(new.budgetMicros.map { "\($0)" } ?? ""),
      ],
      after: [
        index(new.workflowID, dueAtMs: timing.nowMs + timing.leaseMs),
        // NX: an existing run keeps its place in the list.
        ["ZADD", RedisArgument(runsIndex(new.workflowID)), "NX", RedisArgument(timing.nowMs), RedisArgument(new.workflowID)],
      ])
    switch reply.int {
    case 0?: return .exists
    case let fence? where fence > 0: return .created(fence: UInt64(fence))
    default: throw StoreError(.corrupt, "unexpected reply to the create script: \(reply)")
    }
  }

  public func load(workflowID: String, includeArtifacts: Bool, includeHistory: Bool, includeInput: Bool) async throws(StoreError)
    -> RunRecord?
  {
    let reply = try await run(
      Scripts.load, workflowID,
      [includeArtifacts ? "1" : "0", includeHistory ? "1" : "0", includeInput ? "1" : "0"], writes: false)
    if reply.isNull { return nil }
    return try RunRecordDecoder.loaded(reply.array ?? [], workflowID: workflowID, script: "load")
  }

  public func history(workflowID: String, newest: Int?) async throws(StoreError) -> [HistoryEntry] {
    let key = RunKeys(prefix: prefix, workflowID: workflowID).history
    let reply = try await send(["LRANGE", RedisArgument(key), RedisArgument(-(newest ?? 0)), "-1"], about: "LRANGE \(key)")
    return try RunRecordDecoder.history(reply, workflowID: workflowID)
  }

  public func artifacts(workflowID: String, steps: [String]) async throws(StoreError) -> [String: [UInt8]] {
    guard !steps.isEmpty else { return [:] }
    let key = RunKeys(prefix: prefix, workflowID: workflowID).artifacts
    let reply = try await send(
      [RedisArgument("HMGET"), RedisArgument(key)] + steps.map { RedisArgument($0) }, about: "HMGET \(key)")
    var result: [String: [UInt8]] = [:]
    for (name, value) in zip(steps, reply.array ?? []) {
      if let bytes = value.bytes { result[name] = bytes }
    }
    return result
  }

  public func acquireLease(workflowID: String, ttl: Duration) async throws(StoreError) -> LeaseOutcome {
    let reply = try await run(Scripts.acquire, workflowID, [RedisArgument(ttl.wholeMilliseconds)])
    switch reply.int {
    case -1: return .notFound
    case 0: return .held
    case let fence?: return .acquired(fence: UInt64(fence))
    case nil: throw StoreError(.corrupt, "unexpected reply to the lease script: \(reply)")
    }
  }

  public func renewLease(workflowID: String, fence: UInt64, ttl: Duration, runTTL: Duration) async throws(StoreError)
    -> Bool
  {
    let now = Self.nowMilliseconds()
    let reply = try await run(
      Scripts.renew, workflowID,
      [
        RedisArgument(fence), RedisArgument(ttl.wholeMilliseconds), RedisArgument(runTTL.wholeMilliseconds),
        RedisArgument(now + runTTL.wholeMilliseconds),
      ],
      after: [index(workflowID, dueAtMs: now + ttl.wholeMilliseconds)])
    return reply.int == 1
  }

  public func releaseLease(workflowID: String, fence: UInt64, runEnded: Bool) async throws(StoreError) {
    // An ended run leaves the index before its lease is released: while the
    // lease is held nobody else can resume it (and re-add it) in between.
    // A run left RUNNING (shutdown) falls due at once, so another server
    // adopts it now rather than when the lease would have lapsed.
    let index: [RedisArgument] =
      runEnded
      ? ["ZREM", RedisArgument(recoveryIndex(workflowID)), RedisArgument(workflowID)]
      : ["ZADD", RedisArgument(recoveryIndex(workflowID)), "XX", RedisArgument(Self.nowMilliseconds()), RedisArgument(workflowID)]
    _ = try await run(Scripts.release, workflowID, [RedisArgument(fence)], after: [index])
  }

  // MARK: - Recovery

  public func recoveryCandidates(limit: Int) async throws(StoreError) -> [RecoveryCandidate] {
    // A server that could not move an older build's indexes when it opened the store
    // (Redis unreachable then) does it here, before it looks for runs to recover.
    if !unbucketedMoved.load(ordering: .relaxed) { _ = try await moveUnbucketedIndexes() }
    // The earliest due of every bucket, merged: the `limit` earliest overall.
    let now = RedisArgument(Self.nowMilliseconds())
    let replies: [RESPValue]
    do {
      replies = try await client.pipeline(
        recoveryIndexes.map { ["ZRANGEBYSCORE", RedisArgument($0), "-inf", now, "WITHSCORES", "LIMIT", "0", RedisArgument(max(1, limit))] })
    } catch {
      throw StoreError(redis: error)
    }
    var candidates: [RecoveryCandidate] = []
    for (key, reply) in zip(recoveryIndexes, replies) {
      if let message = reply.errorMessage { throw StoreError(redisReply: message, about: "ZRANGEBYSCORE \(key)") }
      let flat = reply.array ?? []
      for pair in stride(from: 0, to: flat.count - 1, by: 2) {
        guard let id = flat[pair].string, let due = flat[pair + 1].string.flatMap({ Double($0) }) else {
          throw StoreError(.corrupt, "unexpected entry in \(key): \(flat[pair]) \(flat[pair + 1])")
        }
        candidates.append(RecoveryCandidate(workflowID: id, dueAtMs: Int64(due)))
      }
    }
    candidates.sort { ($0.dueAtMs, $0.workflowID) < ($1.dueAtMs, $1.workflowID) }
    return Array(candidates.prefix(max(1, limit)))
  }

  public func claimForRecovery(_ candidate: RecoveryCandidate, lease: Duration, failedRetention: Duration)
    async throws(StoreError) -> RecoveryClaim
  {
    let id = candidate.workflowID
    // An id that is not a valid run id cannot have been written by a server:
    // drop it rather than build keys from it.
    if WorkflowID.problem(with: id) != nil {
      try await unindex(candidate)
      return .gone
    }
    let now = Self.nowMilliseconds()
    let reply = try await run(
      Scripts.claim, id,
      [
        RedisArgument(lease.wholeMilliseconds), RedisArgument(Int(RunRecord.currentSchemaVersion)),
        RedisArgument(now), RedisArgument(failedRetention.wholeMilliseconds),
        RedisArgument(now + failedRetention.wholeMilliseconds),
      ])
    let parts = reply.array ?? []
    switch parts.first?.string {
    case "acquired":
      guard let fence = parts.count == 2 ? parts[1].int : nil, fence > 0 else { break }
      return .acquired(fence: UInt64(fence))
    case "newer":
      // Written by a newer server: never half-read or touched; a server that
      // reads its version recovers it. Look again in a lease's time.
      try await deferRecovery(workflowID: id, by: lease)
      return .held
    case "held":
      guard let left = parts.count == 2 ? parts[1].int : nil else { break }
      // Due again when this lease may lapse (a lease without expiry: in a lease's time).
      let wait = left > 0 ? Duration.milliseconds(left) : lease
      try await deferRecovery(workflowID: id, by: wait)
      return .held
    case "ended":
      guard let status = parts.count == 2 ? parts[1].string.flatMap(RunRecord.Status.init(rawValue:)) : nil else { break }
      try await unindex(candidate)
      return .ended(status)
    case "gone":
      try await unindex(candidate)
      return .gone
    default:
      break
    }
    throw StoreError(.corrupt, "unexpected reply to the recovery script: \(reply)")
  }

  public func deferRecovery(workflowID: String, by delay: Duration) async throws(StoreError) {
    // XX: only an entry that exists moves; an ended run is not put back.
    let key = recoveryIndex(workflowID)
    _ = try await send(
      [
        "ZADD", RedisArgument(key), "XX", RedisArgument(Self.nowMilliseconds() + delay.wholeMilliseconds),
        RedisArgument(workflowID),
      ], about: "ZADD \(key)")
  }

  private func unindex(_ candidate: RecoveryCandidate) async throws(StoreError) {
    do {
      _ = try await client.evalScript(
        Scripts.unindex, keys: [RedisArgument(recoveryIndex(candidate.workflowID))],
        arguments: [RedisArgument(candidate.workflowID), RedisArgument(candidate.dueAtMs)])
    } catch {
      throw StoreError(redis: error)
    }
  }

  public func beginAttempt(_ begin: AttemptBegin) async throws(StoreError) {
    let (arguments, index) = arguments(of: begin)
    _ = try await write(Scripts.begin, begin.workflowID, begin.timing, arguments, after: index)
  }

  /// The `begin` script's arguments, and the index command a resume sends
  /// with it (sync, as `arguments(of:)` of a commit).
  @inline(never)
  private func arguments(of begin: AttemptBegin) -> (arguments: [RedisArgument], after: [[RedisArgument]]) {
    let timing = begin.timing
    var arguments: [RedisArgument] = [
      RedisArgument(begin.fence), RedisArgument(begin.cursor), RedisArgument(begin.stepName),
      RedisArgument(encode(begin.step)), RedisArgument(timing.nowMs), RedisArgument(timing.ttlMs),
      RedisArgument(timing.leaseMs), RedisArgument(timing.nowMs + timing.ttlMs),
      RedisArgument(
        Self.event(
          begin.resume == nil ? "attempt_started" : "run_resumed", step: begin.stepName,
          attempt: Int(begin.step.attempts), at: timing.nowMs, status: .running)),
      begin.resume == nil ? "0" : "1", RedisArgument(begin.resume?.savedMicros ?? 0),
      RedisArgument(Int(RunRecord.currentSchemaVersion)),
    ]
    for (name, step) in (begin.resume?.updatedSteps ?? [:]).sorted(by: { $0.key < $1.key }) {
      arguments.append(RedisArgument(name))
      arguments.append(RedisArgument(encode(step)))
    }
    // A resume makes the run RUNNING again: it goes (back) into the index.
    return (arguments, begin.resume == nil ? [] : [index(begin.workflowID, dueAtMs: timing.nowMs + timing.leaseMs)])
  }

  public func commitStep(_ commit: StepCommit) async throws(StoreError) {
    _ = try await write(Scripts.commit, commit.workflowID, commit.timing, arguments(of: commit))
  }

  /// The `commit` script's arguments: built in a sync function, so that the
  /// frame of `commitStep` (kept by the runner's task allocator for as long as
  /// the run goes on) holds none of their temporaries (it was 2 KB).
  @inline(never)
  private func arguments(of commit: StepCommit) throws(StoreError) -> [RedisArgument] {
    let timing = commit.timing
    var next: [UInt8] = []
    if let step = commit.next?.step { next = encode(step) }
    var history: [RedisArgument] = []
    for message in commit.history { history.append(RedisArgument(try encode(message))) }
    // A map item's commit that begins the next item of its lane: that item's begin has its event.
    var begun: [UInt8] = []
    if commit.branchCursor != nil, let next = commit.next {
      begun = Self.event(
        "attempt_started", step: next.name, attempt: Int(next.step.attempts), at: timing.nowMs, status: .running)
    }
    return [
      RedisArgument(commit.fence), RedisArgument(commit.branchCursor == nil ? commit.cursor : StepCommit.branch),
      RedisArgument(commit.stepName), RedisArgument(commit.artifact), RedisArgument(encode(commit.step)),
      RedisArgument(commit.usage.costMicros), RedisArgument(commit.usage.inputTokens),
      RedisArgument(commit.usage.outputTokens), RedisArgument(timing.nowMs),
      RedisArgument(timing.ttlMs), RedisArgument(timing.leaseMs),
      RedisArgument(timing.nowMs + timing.ttlMs),
      RedisArgument(
        Self.event(
          "step_committed", step: commit.stepName, attempt: Int(commit.step.attempts), at: timing.nowMs,
          status: commit.next == nil && commit.branchCursor == nil ? .completed : .running)),
      RedisArgument(commit.next?.name ?? ""), RedisArgument(next),
      RedisArgument(max(1, commit.maxHistoryMessages)), RedisArgument(commit.usage.cachedInputTokens),
      RedisArgument(commit.usage.cacheWriteTokens), commit.branchCursor.map { RedisArgument($0) } ?? "",
      RedisArgument(begun),
    ] + history
  }

  public func completeParallelRun(_ end: ParallelRunEnd) async throws(StoreError) {
    let timing = end.timing
    _ = try await write(
      Scripts.complete, end.workflowID, timing,
      [
        RedisArgument(end.fence), RedisArgument(end.stepCount), RedisArgument(timing.nowMs),
        RedisArgument(timing.ttlMs), RedisArgument(timing.leaseMs), RedisArgument(timing.nowMs + timing.ttlMs),
        RedisArgument(Self.event("run_completed", step: "", attempt: 0, at: timing.nowMs, status: .completed)),
      ])
  }

  public func recordWait(_ wait: StepWait) async throws(StoreError) {
    _ = try await write(Scripts.fail, wait.workflowID, wait.timing, arguments(of: wait))
  }

  /// The `fail` script's arguments for a step that waits (sync, as `arguments(of:)` of a commit).
  @inline(never)
  private func arguments(of wait: StepWait) -> [RedisArgument] {
    arguments(
      of: AttemptFailure(
        workflowID: wait.workflowID, fence: wait.fence, cursor: wait.cursor, stepName: wait.stepName,
        step: wait.step, usage: StepUsage(), runError: nil, timing: wait.timing),
      event: "step_waiting")
  }

  public func recordFailure(_ failure: AttemptFailure) async throws(StoreError) {
    let event = failure.runError == nil ? "attempt_failed" : "run_failed"
    _ = try await write(Scripts.fail, failure.workflowID, failure.timing, arguments(of: failure, event: event))
  }

  /// The `fail` script's arguments, a step's record after an attempt failed
  /// or while it waits (sync, as `arguments(of:)` of a commit).
  @inline(never)
  private func arguments(of failure: AttemptFailure, event: String) -> [RedisArgument] {
    let timing = failure.timing
    return [
      RedisArgument(failure.fence), RedisArgument(failure.cursor), RedisArgument(failure.stepName),
      RedisArgument(encode(failure.step)), RedisArgument(failure.usage.costMicros),
      RedisArgument(failure.usage.inputTokens), RedisArgument(failure.usage.outputTokens),
      RedisArgument(timing.nowMs), RedisArgument(timing.ttlMs), RedisArgument(timing.leaseMs),
      RedisArgument(timing.nowMs + timing.ttlMs),
      RedisArgument(
        Self.event(
          event, step: failure.stepName, attempt: Int(failure.step.attempts), at: timing.nowMs,
          status: failure.runError == nil ? .running : .failed,
          message: event == "step_waiting" ? failure.step.waitReason : failure.step.lastError,
          nextAttemptAtMs: failure.step.nextAttemptAtMs)),
      RedisArgument(failure.runError ?? ""), RedisArgument(failure.usage.cachedInputTokens),
      RedisArgument(failure.usage.cacheWriteTokens),
    ]
  }

  // MARK: - Encoding

  /// A step record, through the fast path (`StepProgressJSON`): the same bytes `JSONEncoder` writes.
  func encode(_ step: StepProgress) -> [UInt8] {
    StepProgressJSON.encode(step)
  }

  func encode(_ value: some Encodable) throws(StoreError) -> [UInt8] {
    do {
      return Array(try RunRecordDecoder.encoder.encode(value))
    } catch {
      throw StoreError(.corrupt, "cannot encode \(type(of: value)): \(error)")
    }
  }

  /// An event's JSON: `type`, `step`, `attempt`, `at_ms`, and when given the
  /// run's `status` after it, a `message` (an attempt's error, a wait's
  /// reason) and `next_attempt_at_ms`. Watchers read it (`RedisStateStore+Events`).
  ///
  /// Written member by member, keys in sorted order: the bytes `JSONValue`'s
  /// `serialized()` gives the same object (every commit writes one or two).
  static func event(
    _ type: String, step: String, attempt: Int, at nowMs: Int64, status: RunRecord.Status? = nil,
    message: String? = nil, nextAttemptAtMs: Int64 = 0
  ) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(96 + (message?.utf8.count ?? 0))
    out.append(contentsOf: #"{"at_ms":"#.utf8)
    JSONWriter.write(Double(nowMs), into: &out)
    out.append(contentsOf: #","attempt":"#.utf8)
    JSONWriter.write(Double(attempt), into: &out)
    if let message, !message.isEmpty {
      out.append(contentsOf: #","message":"#.utf8)
      JSONWriter.write(message, escapingSlashes: false, into: &out)
    }
    if nextAttemptAtMs > 0 {
      out.append(contentsOf: #","next_attempt_at_ms":"#.utf8)
      JSONWriter.write(Double(nextAttemptAtMs), into: &out)
    }
    if let status {
      out.append(contentsOf: #","status":"#.utf8)
      JSONWriter.write(status.rawValue, escapingSlashes: false, into: &out)
    }
    out.append(contentsOf: #","step":"#.utf8)
    JSONWriter.write(step, escapingSlashes: false, into: &out)
    out.append(contentsOf: #","type":"#.utf8)
    JSONWriter.write(type, escapingSlashes: false, into: &out)
    out.append(UInt8(ascii: "}"))
    return out
  }

  /// Sends one command; an error reply is a corrupt-store error, named by `what`.
  func send(_ command: [RedisArgument], about what: String) async throws(StoreError) -> RESPValue {
    let reply: RESPValue
    do {
      reply = try await client.send(command)
    } catch {
      throw StoreError(redis: error)
    }
    if let message = reply.errorMessage { throw StoreError(redisReply: message, about: what) }
    return reply
  }
}

extension StoreError {
  /// Maps a Redis failure: connection trouble is `unavailable`; the scripts'
  /// own error replies (`FENCED`, `CONFLICT`, `NOTFOUND`, `NEWER`) keep their meaning.
  init(redis error: RedisError) {
    guard error.code == .server else {
      self.init(.unavailable, error.message)
      return
    }
    let message = error.message
    let word = message.prefix { $0 != " " }
    let rest = String(message.dropFirst(word.count).drop { $0 == " " })
    switch word {
    case "FENCED": self.init(.fenced, rest)
    case "NEWER": self.init(.unsupportedSchema, rest)
    case "CONFLICT": self.init(.conflict, rest)
    case "NOTFOUND": self.init(.notFound, rest)
    case "LOADING", "BUSY", "MASTERDOWN", "READONLY", "OOM", "TRYAGAIN", "CLUSTERDOWN":
      self.init(.unavailable, "Redis cannot take the write now (\(message))")
    case "MOVED", "ASK":
      self.init(.unavailable, Self.clusterNodeMessage(message))
    default: self.init(.corrupt, message)
    }
  }

  /// An error reply to a plain command (`what`): a cluster redirection says what to
  /// connect with instead; anything else is a store Redis cannot read as expected.
  init(redisReply message: String, about what: String) {
    switch message.prefix(while: { $0 != " " }) {
    case "MOVED", "ASK":
      self.init(.unavailable, Self.clusterNodeMessage(message))
    case "LOADING", "BUSY", "MASTERDOWN", "READONLY", "OOM", "TRYAGAIN", "CLUSTERDOWN":
      self.init(.unavailable, "Redis cannot answer \(what) now (\(message))")
    default:
      self.init(.corrupt, "\(what): \(message)")
    }
  }

  /// What a `MOVED` or `ASK` reply means when the client does not route by slot.
  static func clusterNodeMessage(_ reply: String) -> String {
    "Redis answered '\(reply)': it is a node of a Redis Cluster, which this connection does not route by slot; "
      + "connect with a redis+cluster://host:port URL"
  }
}
