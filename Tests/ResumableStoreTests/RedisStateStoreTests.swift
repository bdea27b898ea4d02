import ResumableCore
import ResumableRedis
import ResumableStore
import ResumableTestSupport
import Testing

/// The store against a real redis-server: fencing, cursor checks, TTLs,
/// partial writes, schema versions.
@Suite("Redis state store")
struct RedisStateStoreTests {
  static let definition = WorkflowDefinition(
    name: "w",
    steps: ["a", "b", "c"].map { StepDefinition(name: $0, plugin: "simulate") })

  static func timing(now: Int64 = 1_000, ttl: Int64 = 60_000) -> WriteTiming {
    WriteTiming(nowMs: now, ttlMs: ttl, leaseMs: 10_000)
  }

  /// Creates run `id` and returns its fencing token.
  static func create(_ store: RedisStateStore, _ id: String) async throws -> UInt64 {
    let outcome = try await store.create(
      NewRun(
        workflowID: id, definition: definition, input: Array("{}".utf8),
        firstStep: StepProgress().beginningAttempt(at: 1_000), timing: timing()))
    guard case .created(let fence) = outcome else {
      Issue.record("not created")
      return 0
    }
    return fence
  }

  static func commit(
    _ id: String, fence: UInt64, cursor: Int, artifact: String = "{\"x\":1}", timing: WriteTiming = timing(now: 2_000)
  ) -> StepCommit {
    let name = definition.steps[cursor].name
    let next = cursor + 1 < definition.steps.count
      ? (definition.steps[cursor + 1].name, StepProgress().beginningAttempt(at: 2_000)) : nil
    return StepCommit(
      workflowID: id, fence: fence, cursor: cursor, stepName: name, artifact: Array(artifact.utf8),
      step: StepProgress(status: .completed, attempts: 1, usage: StepUsage(costMicros: 100_000), committedCostMicros: 100_000),
      usage: StepUsage(inputTokens: 10, outputTokens: 5, costMicros: 100_000), next: next, timing: timing)
  }

  @Test func createCommitAndLoad() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let store = RedisStateStore(client: client, keyPrefix: uniqueKeyPrefix())
        let fence = try await Self.create(store, "run-1")
        #expect(fence > 1_700_000_000_000_000, "a first token is Redis' clock in microseconds")
        #expect(try await store.create(NewRun(workflowID: "run-1", definition: Self.definition, input: [], firstStep: StepProgress(), timing: Self.timing())) == .exists)
        try await store.commitStep(Self.commit("run-1", fence: fence, cursor: 0))
        let record = try #require(try await store.load(workflowID: "run-1", includeArtifacts: true))
        #expect(record.cursor == 1)
        #expect(record.status == .running)
        #expect(record.steps[0].status == .completed)
        #expect(record.steps[1].status == .running && record.steps[1].attempts == 1)
        #expect(record.steps[2].status == .pending)
        #expect(record.ledger == RunLedger(spentMicros: 100_000, inputTokens: 10, outputTokens: 5))
        #expect(record.artifacts == ["a": Array("{\"x\":1}".utf8)])
        #expect(record.definition == Self.definition)
        #expect(try await store.load(workflowID: "nobody", includeArtifacts: false) == nil)
      }
    }
  }

  @Test func staleFenceOrWrongStepChangesNothing() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        let first = try await Self.create(store, "run-2")
        // The first runner's lease is released; a second runner takes the run.
        try await store.releaseLease(workflowID: "run-2", fence: first, runEnded: false)
        guard case .acquired(let second) = try await store.acquireLease(workflowID: "run-2", ttl: .seconds(10)) else {
          Issue.record("lease not acquired")
          return
        }
        #expect(second > first)
        let before = try await Self.dump(client, prefix: prefix, id: "run-2")

        await expectStoreError(.fenced) {
          try await store.commitStep(Self.commit("run-2", fence: first, cursor: 0))
        }
        await expectStoreError(.conflict) {
          try await store.commitStep(Self.commit("run-2", fence: second, cursor: 1))
        }
        #expect(try await Self.dump(client, prefix: prefix, id: "run-2") == before)

        try await store.commitStep(Self.commit("run-2", fence: second, cursor: 0))
        // A duplicate of a commit that was applied is refused, not applied twice.
        await expectStoreError(.conflict) {
          try await store.commitStep(Self.commit("run-2", fence: second, cursor: 0))
        }
        let record = try #require(try await store.load(workflowID: "run-2", includeArtifacts: false))
        #expect(record.cursor == 1 && record.ledger.spentMicros == 100_000)
      }
    }
  }

  @Test func leaseIsExclusiveUntilReleased() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let store = RedisStateStore(client: client, keyPrefix: uniqueKeyPrefix())
        let fence = try await Self.create(store, "run-3")
        #expect(try await store.acquireLease(workflowID: "run-3", ttl: .seconds(10)) == .held)
        #expect(try await store.acquireLease(workflowID: "ghost", ttl: .seconds(10)) == .notFound)
        #expect(try await store.renewLease(workflowID: "run-3", fence: fence, ttl: .seconds(10), runTTL: .seconds(60)))
        #expect(try await store.renewLease(workflowID: "run-3", fence: fence + 1, ttl: .seconds(10), runTTL: .seconds(60)) == false)
        try await store.releaseLease(workflowID: "run-3", fence: fence, runEnded: false)
        #expect(try await store.acquireLease(workflowID: "run-3", ttl: .seconds(10)) == .acquired(fence: fence + 1))
        #expect(try await store.renewLease(workflowID: "run-3", fence: fence, ttl: .seconds(10), runTTL: .seconds(60)) == false)
      }
    }
  }

  @Test func everyKeyOfARunCarriesTheSameTTL() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        let fence = try await Self.create(store, "run-4")
        try await store.commitStep(Self.commit("run-4", fence: fence, cursor: 0))
        // The commit script sets them in one go: at most a millisecond apart
        // (Redis 7.0 reads the clock per PEXPIRE).
        let ttls = try await WriteSafetyTests.ttls(client, prefix, "run-4", ["run", "steps", "artifacts", "events"])
        #expect(ttls.count == 4)
        // 60 s of retention, and a slack of 1/100 of it (`Scripts.prelude`'s `touch`).
        #expect(ttls.allSatisfy { $0 > 50_000 && $0 <= 60_600 }, "\(ttls)")
        #expect(ttls.max()! - ttls.min()! <= 1, "every key of the run expires together: \(ttls)")
        // The lease expires on its own schedule.
        let lease = try #require(try await client.send(["PTTL", RedisArgument("\(prefix):{run-4}:lease")]).int)
        #expect(lease > 0 && lease <= 10_000)
      }
    }
  }

  /// A runner's write while the run's keys still have the whole retention left
  /// moves no expiry (most writes of a run in flight: no PEXPIRE), and gives a key
  /// it creates the time the others have; a write asking for more than they have
  /// left refreshes them all, and a shorter retention (a run ending) shortens them.
  /// (A 10-minute retention, so its slack of 1/100 is 6 s: the parallel suite's
  /// load delays a step here by a second at times.)
  @Test func aWriteRefreshesTheRunsExpiryOnlyOnceLessThanTheRetentionIsLeft() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        let fence = try await WriteSafetyTests.create(store, "run-x", ttl: 600_000)
        func ttls() async throws -> [Int64] {
          try await WriteSafetyTests.ttls(client, prefix, "run-x", ["run", "steps", "artifacts", "events", "history"])
        }
        func commit(_ cursor: Int, ttl: Int64) -> StepCommit {
          var commit = Self.commit("run-x", fence: fence, cursor: cursor, timing: Self.timing(now: 2_000, ttl: ttl))
          commit.history = [HistoryEntry(role: "assistant", content: "m\(cursor)")]
          commit.maxHistoryMessages = 10
          return commit
        }
        let created = try await ttls()
        #expect(created[0] > 590_000 && created[0] <= 606_000 && created[2] == -2 && created[4] == -2, "\(created)")

        // Within the slack: the commit creates the artifacts and the history, which
        // expire with the rest, and moves no key's expiry on.
        try await Task.sleep(for: .milliseconds(20))
        try await store.commitStep(commit(0, ttl: 600_000))
        let kept = try await ttls()
        // (20 ms have passed since `created` was read: a refresh would have put them back above it.)
        #expect(kept.allSatisfy { $0 > 0 && $0 <= created[0] - 15 }, "not refreshed: \(kept), created \(created)")
        #expect(kept.max()! - kept.min()! <= 1, "every key of the run expires together: \(kept)")

        // Less left than the next write asks for (11 minutes): every key is refreshed.
        try await store.commitStep(commit(1, ttl: 660_000))
        let refreshed = try await ttls()
        #expect(refreshed.allSatisfy { $0 > 650_000 && $0 <= 666_600 }, "\(refreshed)")
        #expect(refreshed.max()! - refreshed.min()! <= 1, "\(refreshed)")

        // The last commit ends the run with a retention of 2 minutes: every key is
        // shortened (and the run outlives the re-run below, however slow the machine).
        try await store.commitStep(commit(2, ttl: 120_000))
        let ended = try await ttls()
        #expect(ended.allSatisfy { $0 > 100_000 && $0 <= 121_200 }, "\(ended)")
        #expect(try await store.load(workflowID: "run-x", includeArtifacts: false)?.status == .completed)

        // A re-run from the first step empties the artifacts (their key is gone); its
        // first commit, within the slack of the re-run's refresh, makes the key again,
        // and gives it the others' expiry.
        try await store.releaseLease(workflowID: "run-x", fence: fence, runEnded: true)
        guard case .acquired(let again) = try await store.acquireLease(workflowID: "run-x", ttl: .seconds(10)) else {
          Issue.record("lease not acquired")
          return
        }
        try await store.rerun(
          RerunBegin(
            workflowID: "run-x", fence: again, cursor: 0, discarded: ["a", "b", "c"],
            steps: ["a": StepProgress().beginningAttempt(at: 3_000), "b": StepProgress(), "c": StepProgress()],
            savedMicros: 0, timing: Self.timing(now: 3_000, ttl: 600_000)))
        #expect(try await ttls()[2] == -2, "the re-run emptied the artifacts")
        var first = Self.commit("run-x", fence: again, cursor: 0, timing: Self.timing(now: 3_000, ttl: 600_000))
        first.maxHistoryMessages = 10
        try await store.commitStep(first)
        let rerun = try await ttls()
        #expect(rerun.allSatisfy { $0 > 590_000 && $0 <= 606_000 }, "\(rerun)")
        #expect(rerun.max()! - rerun.min()! <= 1, "\(rerun)")
      }
    }
  }

  @Test func aCommitWritesOnlyItsOwnArtifact() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        let fence = try await Self.create(store, "run-5")
        try await store.commitStep(Self.commit("run-5", fence: fence, cursor: 0, artifact: "\"first\""))
        // Overwrite step a's artifact behind the store's back: committing b must not rewrite it.
        _ = try await client.send(["HSET", RedisArgument("\(prefix):{run-5}:artifacts"), "a", "\"tampered\""])
        try await store.commitStep(Self.commit("run-5", fence: fence, cursor: 1, artifact: "\"second\""))
        let record = try #require(try await store.load(workflowID: "run-5", includeArtifacts: true))
        #expect(record.artifacts["a"] == Array("\"tampered\"".utf8))
        #expect(record.artifacts["b"] == Array("\"second\"".utf8))
      }
    }
  }

  @Test func newerSchemaIsRefusedWhole() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        _ = try await Self.create(store, "run-6")
        _ = try await client.send(["HSET", RedisArgument("\(prefix):{run-6}:run"), "v", "99"])
        await expectStoreError(.unsupportedSchema) {
          _ = try await store.load(workflowID: "run-6", includeArtifacts: false)
        }
      }
    }
  }

  @Test func failureRecordsCostAndFailsTheRun() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let store = RedisStateStore(client: client, keyPrefix: uniqueKeyPrefix())
        let fence = try await Self.create(store, "run-7")
        var failed = StepProgress().beginningAttempt(at: 1_000)
        failed.status = .failed
        failed.lastError = "boom"
        try await store.recordFailure(
          AttemptFailure(
            workflowID: "run-7", fence: fence, cursor: 0, stepName: "a", step: failed,
            usage: StepUsage(costMicros: 70_000), runError: "step 'a' failed: boom", timing: Self.timing()))
        let record = try #require(try await store.load(workflowID: "run-7", includeArtifacts: false))
        #expect(record.status == .failed)
        #expect(record.error == "step 'a' failed: boom")
        #expect(record.ledger.spentMicros == 70_000)
        #expect(record.steps[0].lastError == "boom")
        // A failed run takes no commit until a resume begins a new attempt.
        await expectStoreError(.conflict) {
          try await store.commitStep(Self.commit("run-7", fence: fence, cursor: 0))
        }
      }
    }
  }

  /// Every field of every key of a run, for before/after comparisons.
  static func dump(_ client: RedisClient, prefix: String, id: String) async throws -> [String] {
    try await dumpRun(client, prefix: prefix, id: id)
  }
}

/// Runs `body` and checks that it throws a `StoreError` of `kind`.
func expectStoreError(
  _ kind: StoreError.Kind, sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () async throws -> Void
) async {
  let error = await #expect(throws: StoreError.self, sourceLocation: sourceLocation) { try await body() }
  #expect(error?.kind == kind, sourceLocation: sourceLocation)
}
