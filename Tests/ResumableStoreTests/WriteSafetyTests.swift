import Foundation
import ResumableCore
import ResumableRedis
import ResumableStore
import ResumableTestSupport
import Testing

/// What every write script guarantees under retry, schema refusal, fencing
/// across re-creations and expiry, against a real redis-server.
@Suite("Store: write safety")
struct WriteSafetyTests {
  static let definition = RedisStateStoreTests.definition

  static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

  static func timing(ttl: Int64 = 60_000, operation: String = WriteTiming.newOperation()) -> WriteTiming {
    WriteTiming(nowMs: now(), ttlMs: ttl, leaseMs: 10_000, operation: operation)
  }

  static func create(_ store: RedisStateStore, _ id: String, ttl: Int64 = 60_000) async throws -> UInt64 {
    let outcome = try await store.create(
      NewRun(
        workflowID: id, definition: definition, input: Array("{}".utf8),
        firstStep: StepProgress().beginningAttempt(at: now()), timing: timing(ttl: ttl)))
    guard case .created(let fence) = outcome else { throw StoreError(.conflict, "run '\(id)' was not created") }
    return fence
  }

  static func failure(_ id: String, fence: UInt64, timing: WriteTiming, runError: String? = nil) -> AttemptFailure {
    AttemptFailure(
      workflowID: id, fence: fence, cursor: 0, stepName: "a",
      step: StepProgress(status: .retrying, attempts: 1, usage: StepUsage(costMicros: 70_000)),
      usage: StepUsage(inputTokens: 7, outputTokens: 3, costMicros: 70_000), runError: runError, timing: timing)
  }

  static func events(_ client: RedisClient, _ prefix: String, _ id: String) async throws -> Int64 {
    try #require(try await client.send(["XLEN", RedisArgument("\(prefix):{\(id)}:events")]).int)
  }

  @Test func aRepeatedWriteIsAppliedOnceAndAnsweredAsTheFirstWas() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        let fence = try await Self.create(store, "r")

        // A failed attempt's record, sent twice with one operation id (a retry
        // after a lost reply): charged once, one event.
        let failed = Self.timing()
        try await store.recordFailure(Self.failure("r", fence: fence, timing: failed))
        let eventsAfterFirst = try await Self.events(client, prefix, "r")
        try await store.recordFailure(Self.failure("r", fence: fence, timing: failed))
        var record = try #require(try await store.load(workflowID: "r", includeArtifacts: false))
        #expect(record.ledger == RunLedger(spentMicros: 70_000, inputTokens: 7, outputTokens: 3))
        #expect(try await Self.events(client, prefix, "r") == eventsAfterFirst)

        // A new write (a new operation id) is charged again, as it should be.
        try await store.recordFailure(Self.failure("r", fence: fence, timing: Self.timing()))
        record = try #require(try await store.load(workflowID: "r", includeArtifacts: false))
        #expect(record.ledger.spentMicros == 140_000)

        // A resume's begin, repeated: one resume, saved counted once.
        try await store.recordFailure(Self.failure("r", fence: fence, timing: Self.timing(), runError: "boom"))
        try await store.releaseLease(workflowID: "r", fence: fence, runEnded: true)
        guard case .acquired(let second) = try await store.acquireLease(workflowID: "r", ttl: .seconds(10)) else {
          Issue.record("lease not acquired")
          return
        }
        let resume = AttemptBegin(
          workflowID: "r", fence: second, cursor: 0, stepName: "a", step: StepProgress().beginningAttempt(at: Self.now()),
          resume: ResumeMark(savedMicros: 5_000, updatedSteps: [:]), timing: Self.timing())
        try await store.beginAttempt(resume)
        try await store.beginAttempt(resume)
        record = try #require(try await store.load(workflowID: "r", includeArtifacts: false))
        #expect(record.resumes == 1 && record.ledger.savedByResumeMicros == 5_000)
        #expect(record.ledger.spentMicros == 210_000)

        // A commit, repeated: answered OK (not CONFLICT), applied once.
        let commit = RedisStateStoreTests.commit("r", fence: second, cursor: 0)
        try await store.commitStep(commit)
        try await store.commitStep(commit)
        record = try #require(try await store.load(workflowID: "r", includeArtifacts: false))
        #expect(record.cursor == 1 && record.ledger.spentMicros == 310_000)

        // A cancel, repeated: the first answer again.
        let cancel = RunCancel(workflowID: "r", reason: "stop", timing: Self.timing())
        #expect(try await store.cancel(cancel) == .cancelled(previous: .running))
        #expect(try await store.cancel(cancel) == .cancelled(previous: .running))
        #expect(try await store.cancel(RunCancel(workflowID: "r", reason: "again", timing: Self.timing())) == .ended(.cancelled))
      }
    }
  }

  @Test func aCreationWhoseReplyWasLostIsSeenAsACreationOnRetry() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let store = RedisStateStore(client: client, keyPrefix: uniqueKeyPrefix())
        let new = NewRun(
          workflowID: "c", definition: Self.definition, input: Array("{}".utf8),
          firstStep: StepProgress().beginningAttempt(at: Self.now()), timing: Self.timing())
        let first = try await store.create(new)
        #expect(try await store.create(new) == first)
        var other = new
        other.timing = Self.timing()
        #expect(try await store.create(other) == .exists)
      }
    }
  }

  @Test func fencesOnlyGrowForAnIdEvenWhenItsRunExpiredAndWasCreatedAgain() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        var fence = try await Self.create(store, "again")
        // The old run is taken over a few times, then its keys expire.
        for _ in 0..<3 {
          try await store.releaseLease(workflowID: "again", fence: fence, runEnded: false)
          guard case .acquired(let next) = try await store.acquireLease(workflowID: "again", ttl: .seconds(10)) else {
            Issue.record("lease not acquired")
            return
          }
          fence = next
        }
        let keys = ["run", "steps", "artifacts", "events", "lease", "history"].map { RedisArgument("\(prefix):{again}:\($0)") }
        _ = try await client.send(["DEL"] + keys)
        let recreated = try await Self.create(store, "again")
        #expect(recreated > fence, "a zombie runner of the old run (token \(fence)) can never match")
        await expectStoreError(.fenced) {
          try await store.recordFailure(Self.failure("again", fence: fence, timing: Self.timing()))
        }
      }
    }
  }

  /// Marks run `id` as written by schema version 99.
  static func makeNewer(_ client: RedisClient, _ prefix: String, _ id: String) async throws {
    _ = try await client.send(["HSET", RedisArgument("\(prefix):{\(id)}:run"), "v", "99"])
  }

  @Test func noWriteTouchesARunOfANewerSchemaAndListDoesNotShowItAsCurrent() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        let fence = try await Self.create(store, "newer")
        _ = try await Self.create(store, "current")
        // Awaiting approval, so an answer would otherwise be accepted.
        let approval = PendingApproval(
          stepName: "a", cursor: 0, token: "tok", kind: .before, requestedAtMs: Self.now(),
          deadlineMs: Self.now() + 60_000)
        try await store.requestApproval(
          ApprovalRequest(
            workflowID: "newer", fence: fence, approval: approval, step: StepProgress(), usage: StepUsage(),
            timing: Self.timing()))
        try await Self.makeNewer(client, prefix, "newer")
        let before = try await RedisStateStoreTests.dump(client, prefix: prefix, id: "newer")

        await expectStoreError(.unsupportedSchema) {
          _ = try await store.cancel(RunCancel(workflowID: "newer", reason: "stop", timing: Self.timing()))
        }
        await expectStoreError(.unsupportedSchema) {
          _ = try await store.answerApproval(
            ApprovalAnswer(workflowID: "newer", token: "tok", approve: true, note: "", timing: Self.timing()),
            lease: .seconds(10))
        }
        await expectStoreError(.unsupportedSchema) {
          try await store.recordFailure(Self.failure("newer", fence: fence, timing: Self.timing()))
        }
        #expect(try await RedisStateStoreTests.dump(client, prefix: prefix, id: "newer") == before)

        let page = try await store.listRuns(RunQuery(status: nil, workflow: nil, limit: 50, cursor: nil))
        #expect(page.runs.map(\.workflowID) == ["current"])
      }
    }
  }

  /// The PTTL of each of the run's `keys` (-2: no such key), read inside one
  /// script so that the reads see one instant.
  static func ttls(
    _ client: RedisClient, _ prefix: String, _ id: String, _ keys: [String] = ["run", "steps", "events"]
  ) async throws -> [Int64] {
    let names = keys.map { RedisArgument("\(prefix):{\(id)}:\($0)") }
    let script = "local t = {} for i = 1, #KEYS do t[i] = redis.call('PTTL', KEYS[i]) end return t"
    return try #require(try await client.send(["EVAL", RedisArgument(script), RedisArgument(names.count)] + names).array)
      .compactMap(\.int)
  }

  @Test func aLeaseRenewalKeepsTheWholeRunAlive() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        // Written with a 30 s TTL: a step running longer would see its run expire.
        let fence = try await Self.create(store, "long", ttl: 30_000)
        #expect(try await Self.ttls(client, prefix, "long").allSatisfy { $0 <= 30_300 })
        #expect(try await store.renewLease(workflowID: "long", fence: fence, ttl: .seconds(10), runTTL: .seconds(600)))
        let ttls = try await Self.ttls(client, prefix, "long")
        #expect(ttls.count == 3 && ttls.allSatisfy { $0 > 300_000 }, "\(ttls)")
        let record = try #require(try await store.load(workflowID: "long", includeArtifacts: false))
        #expect(record.expiresAtMs > Self.now() + 300_000)
      }
    }
  }

  @Test func anApprovalThatExpiresKeepsTheFailedRunForTheFailedRetention() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        let fence = try await Self.create(store, "late")
        let approval = PendingApproval(
          stepName: "a", cursor: 0, token: "tok", kind: .before, requestedAtMs: Self.now() - 10_000,
          deadlineMs: Self.now() - 1)
        try await store.requestApproval(
          ApprovalRequest(
            workflowID: "late", fence: fence, approval: approval, step: StepProgress(), usage: StepUsage(),
            timing: Self.timing(ttl: 600_000)))
        let due = try #require(try await store.recoveryCandidates(limit: 10).first)
        let claim = try await store.claimForRecovery(due, lease: .seconds(10), failedRetention: .seconds(5))
        #expect(claim == .ended(.failed))
        let ttls = try await Self.ttls(client, prefix, "late")
        // The failed-run retention, plus its slack of 1/100 (`Scripts.prelude`'s `touch`).
        #expect(ttls.count == 3 && ttls.allSatisfy { $0 > 0 && $0 <= 5_050 }, "\(ttls)")
        let record = try #require(try await store.load(workflowID: "late", includeArtifacts: false))
        #expect(record.status == .failed && record.expiresAtMs <= Self.now() + 5_000)
      }
    }
  }

  @Test func theListLosesExpiredRunsInBoundedPasses() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix, listEntryGrace: .zero)
        for index in 0..<7 { _ = try await Self.create(store, "run-\(index)") }
        // Runs 1, 3 and 5 expire (their keys go; their list entries stay).
        for index in [1, 3, 5] { _ = try await client.send(["DEL", RedisArgument("\(prefix):{run-\(index)}:run")]) }
        func listed() async throws -> Int64 {
          var count: Int64 = 0
          for key in RedisStateStore.runListKeys(keyPrefix: prefix) { count += try await client.send(["ZCARD", RedisArgument(key)]).int ?? 0 }
          return count
        }
        #expect(try await listed() == 7)
        var position = 0
        var passes = 0
        var removed = 0
        repeat {
          let pass = try await store.trimRunList(from: position, limit: 2)
          position = pass.next
          removed += pass.removed
          passes += 1
        } while position != 0 && passes < 20
        #expect(removed == 3 && passes >= 3, "bounded: at most 2 entries a pass")
        #expect(try await listed() == 4)
      }
    }
  }

  /// A run's list entry is written just ahead of the run (`create`): a list or
  /// a trim pass that sees the entry before the run must not take it for the
  /// entry of an expired run and remove it (the run would never be listed).
  @Test func aRunBeingCreatedKeepsItsListEntry() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix, listEntryGrace: .seconds(30))
        func indexed(_ id: String) async throws -> Bool {
          try await !client.send(["ZSCORE", RedisArgument(RedisStateStore.runListKey(keyPrefix: prefix, workflowID: id)), RedisArgument(id)]).isNull
        }
        func trimAll() async throws {
          var position = 0
          var passes = 0
          repeat {
            position = try await store.trimRunList(from: position, limit: 10).next
            passes += 1
          } while position != 0 && passes < 100
        }
        // The create's entry is in; its script has not run yet.
        let fresh = RedisStateStore.runListKey(keyPrefix: prefix, workflowID: "fresh")
        _ = try await client.send(["ZADD", RedisArgument(fresh), RedisArgument(Self.now()), "fresh"])
        #expect(try await store.listRuns(RunQuery()).runs.isEmpty, "not a run yet: not listed")
        try await trimAll()
        #expect(try await indexed("fresh"), "kept by the list and by the trim pass")
        _ = try await Self.create(store, "fresh")
        #expect(try await store.listRuns(RunQuery()).runs.map(\.workflowID) == ["fresh"])
        // Entries older than the grace whose runs are gone did expire: a list and a trim pass remove them.
        for id in ["gone-1", "gone-2"] {
          let key = RedisStateStore.runListKey(keyPrefix: prefix, workflowID: id)
          _ = try await client.send(["ZADD", RedisArgument(key), RedisArgument(Self.now() - 60_000), RedisArgument(id)])
        }
        #expect(try await store.listRuns(RunQuery()).runs.map(\.workflowID) == ["fresh"])
        let gone1 = try await indexed("gone-1")
        let gone2 = try await indexed("gone-2")
        #expect(!gone1 && !gone2)
        _ = try await client.send(["ZADD", RedisArgument(RedisStateStore.runListKey(keyPrefix: prefix, workflowID: "gone-3")), RedisArgument(Self.now() - 60_000), "gone-3"])
        try await trimAll()
        let gone3 = try await indexed("gone-3")
        let stillFresh = try await indexed("fresh")
        #expect(!gone3 && stillFresh)
      }
    }
  }
}
