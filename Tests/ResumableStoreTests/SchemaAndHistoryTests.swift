import ResumableCore
import ResumableRedis
import ResumableStore
import ResumableTestSupport
import Testing

/// Schema versions (a version-1 run written with raw Redis commands, as the
/// version-1 store wrote it) and the history list, against a real redis-server.
@Suite("Schema upgrades and history")
struct SchemaAndHistoryTests {
  /// Writes run `id` exactly as schema version 1 stored it: FAILED at step
  /// `b` (a retryable error), step `a` committed; no history key.
  static func writeVersion1Run(_ client: RedisClient, prefix: String, id: String, version: String = "1") async throws {
    let base = "\(prefix):{\(id)}:"
    let definition =
      #"{"name":"w","steps":[{"config":{},"inputs":["input"],"name":"a","plugin":"echo","retry":{"initialBackoffMilliseconds":100,"maxAttempts":3,"maxBackoffMilliseconds":5000,"multiplier":2}},{"config":{},"inputs":["a"],"name":"b","plugin":"echo","retry":{"initialBackoffMilliseconds":100,"maxAttempts":3,"maxBackoffMilliseconds":5000,"multiplier":2},"timeoutMilliseconds":2000}]}"#
    let stepA =
      #"{"artifactBytes":3,"attempts":1,"committedCostMicros":100000,"finishedAtMs":1700000000200,"lastErrorRetryable":false,"savedMicros":0,"startedAtMs":1700000000100,"status":"COMPLETED","usage":{"costMicros":100000,"inputTokens":10,"outputTokens":5}}"#
    let stepB =
      #"{"artifactBytes":0,"attempts":2,"committedCostMicros":0,"finishedAtMs":1700000000400,"lastError":"boom","lastErrorRetryable":true,"savedMicros":0,"startedAtMs":1700000000300,"status":"FAILED","usage":{"costMicros":50000,"inputTokens":0,"outputTokens":0}}"#
    let commands: [[RedisArgument]] = [
      [
        "HSET", RedisArgument(base + "run"), "v", RedisArgument(version), "workflow", "w", "definition",
        RedisArgument(definition), "input", "{}", "status", "FAILED", "cursor", "1", "fence", "1", "created",
        "1700000000000", "updated", "1700000000400", "expires", "1800000000000", "spent", "150000", "saved", "0",
        "in_tokens", "10", "out_tokens", "5", "resumes", "0", "error", "step 'b' failed after 2 attempts: boom",
      ],
      ["HSET", RedisArgument(base + "steps"), "a", RedisArgument(stepA), "b", RedisArgument(stepB)],
      ["HSET", RedisArgument(base + "artifacts"), "a", "\"A\""],
      ["XADD", RedisArgument(base + "events"), "*", "event", #"{"type":"run_failed"}"#],
    ]
    for reply in try await client.pipeline(commands) {
      #expect(reply.errorMessage == nil, "\(reply)")
    }
  }

  @Test func aVersion1RunIsUpgradedOnReadAndStoredAsVersion2ByAResume() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        try await Self.writeVersion1Run(client, prefix: prefix, id: "old-1")

        let record = try #require(try await store.load(workflowID: "old-1", includeArtifacts: true, includeHistory: true))
        #expect(record.schemaVersion == 1)  // as stored
        #expect(record.status == .failed && record.cursor == 1)
        #expect(record.steps[0].status == .completed && record.steps[0].lastErrorClass == nil)
        #expect(record.steps[1].lastError == "boom" && record.steps[1].lastErrorClass == .retryable)
        #expect(record.steps[1].lastErrorRetryable && record.steps[1].nextAttemptAtMs == 0)
        #expect(record.definition.steps.map(\.history) == [.none, .none])
        #expect(record.definition.steps[1].timeoutMilliseconds == 2000)
        #expect(record.ledger.spentMicros == 150_000 && record.artifacts["a"] == Array("\"A\"".utf8))
        #expect(record.history.isEmpty && record.historyLength == 0)

        // A resume rewrites every committed step's record and the version.
        guard case .acquired(let fence) = try await store.acquireLease(workflowID: "old-1", ttl: .seconds(10)) else {
          Issue.record("lease not acquired")
          return
        }
        var committed = record.steps[0]
        committed.savedMicros = committed.committedCostMicros
        try await store.beginAttempt(
          AttemptBegin(
            workflowID: "old-1", fence: fence, cursor: 1, stepName: "b",
            step: record.steps[1].beginningAttempt(at: 1_700_000_001_000),
            resume: ResumeMark(savedMicros: committed.savedMicros, updatedSteps: ["a": committed]),
            timing: WriteTiming(nowMs: 1_700_000_001_000, ttlMs: 60_000, leaseMs: 10_000)))
        let version = try await client.send(["HGET", RedisArgument("\(prefix):{old-1}:run"), "v"])
        #expect(version.string == "2")
        let steps = try await client.send(["HGETALL", RedisArgument("\(prefix):{old-1}:steps")])
        #expect(!"\(steps)".contains("lastErrorRetryable"), "\(steps)")
        let upgraded = try #require(try await store.load(workflowID: "old-1", includeArtifacts: false))
        #expect(upgraded.schemaVersion == RunRecord.currentSchemaVersion)
        #expect(upgraded.status == .running && upgraded.steps[1].attempts == 3)
        #expect(upgraded.steps[1].lastErrorClass == .retryable)
      }
    }
  }

  /// Runs and step records stored before the cache counts existed (no
  /// `cached_tokens` fields, no `cachedInputTokens` keys) read with 0, and
  /// the first charge that has them starts the run's count.
  @Test func aRunStoredWithoutTheCacheCountsReadsThemAsZeroAndGainsThemWhenCharged() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        try await Self.writeVersion1Run(client, prefix: prefix, id: "old-c")
        let record = try #require(try await store.load(workflowID: "old-c", includeArtifacts: false))
        #expect(record.ledger == RunLedger(spentMicros: 150_000, inputTokens: 10, outputTokens: 5))
        #expect(record.steps[0].usage == StepUsage(inputTokens: 10, outputTokens: 5, costMicros: 100_000))

        guard case .acquired(let fence) = try await store.acquireLease(workflowID: "old-c", ttl: .seconds(10)) else {
          Issue.record("lease not acquired")
          return
        }
        let timing = WriteTiming(nowMs: 1_700_000_001_000, ttlMs: 60_000, leaseMs: 10_000)
        let retry = record.steps[1].beginningAttempt(at: timing.nowMs)
        try await store.beginAttempt(
          AttemptBegin(
            workflowID: "old-c", fence: fence, cursor: 1, stepName: "b", step: retry,
            resume: ResumeMark(savedMicros: 0, updatedSteps: ["a": record.steps[0]]), timing: timing))
        let usage = StepUsage(inputTokens: 1, cachedInputTokens: 900, cacheWriteTokens: 30, costMicros: 500)
        var failed = retry
        failed.status = .retrying
        failed.usage = failed.usage + usage
        try await store.recordFailure(
          AttemptFailure(
            workflowID: "old-c", fence: fence, cursor: 1, stepName: "b", step: failed, usage: usage, runError: nil,
            timing: WriteTiming(nowMs: timing.nowMs + 1, ttlMs: timing.ttlMs, leaseMs: timing.leaseMs)))
        let charged = try #require(try await store.load(workflowID: "old-c", includeArtifacts: false))
        #expect(
          charged.ledger
            == RunLedger(spentMicros: 150_500, inputTokens: 11, outputTokens: 5, cachedInputTokens: 900, cacheWriteTokens: 30))
        #expect(charged.steps[1].usage == StepUsage(inputTokens: 1, cachedInputTokens: 900, cacheWriteTokens: 30, costMicros: 50_500))
      }
    }
  }

  @Test(arguments: ["3", "99"])
  func aNewerVersionIsRefusedWhole(_ version: String) async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        try await Self.writeVersion1Run(client, prefix: prefix, id: "new-1", version: version)
        await expectStoreError(.unsupportedSchema) {
          _ = try await store.load(workflowID: "new-1", includeArtifacts: true)
        }
        let error = await #expect(throws: StoreError.self) {
          _ = try await store.load(workflowID: "new-1", includeArtifacts: false)
        }
        #expect(error?.message.contains("schema version \(version)") == true)
        #expect(error?.message.contains("upgrade the server") == true)
      }
    }
  }

  @Test func aVersionWithoutAnUpgradePathIsRefused() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        try await Self.writeVersion1Run(client, prefix: prefix, id: "zero", version: "0")
        let error = await #expect(throws: StoreError.self) {
          _ = try await store.load(workflowID: "zero", includeArtifacts: false)
        }
        #expect(error?.kind == .unsupportedSchema)
        #expect(error?.message.contains("cannot upgrade") == true)
      }
    }
  }

  static let definition = WorkflowDefinition(
    name: "w", steps: ["a", "b", "c"].map { StepDefinition(name: $0, plugin: "simulate") })

  static func commit(_ id: String, fence: UInt64, cursor: Int, history: [String], cap: Int) -> StepCommit {
    let next = cursor + 1 < definition.steps.count
      ? (definition.steps[cursor + 1].name, StepProgress().beginningAttempt(at: 2_000)) : nil
    return StepCommit(
      workflowID: id, fence: fence, cursor: cursor, stepName: definition.steps[cursor].name,
      artifact: Array("{}".utf8), step: StepProgress(status: .completed, attempts: 1), usage: StepUsage(),
      next: next, timing: WriteTiming(nowMs: 2_000, ttlMs: 60_000, leaseMs: 10_000),
      history: history.map { HistoryEntry(role: "assistant", content: $0) }, maxHistoryMessages: cap)
  }

  @Test func historyIsAppendedNeverRewrittenAndCapped() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        let outcome = try await store.create(
          NewRun(
            workflowID: "h", definition: Self.definition, input: Array("{}".utf8),
            firstStep: StepProgress().beginningAttempt(at: 1_000),
            timing: WriteTiming(nowMs: 1_000, ttlMs: 60_000, leaseMs: 10_000)))
        guard case .created(let fence) = outcome else {
          Issue.record("not created")
          return
        }
        try await store.commitStep(Self.commit("h", fence: fence, cursor: 0, history: ["m1", "m2"], cap: 3))
        // Change a stored message behind the store's back: the next commit
        // appends after it and does not rewrite it.
        let key = RedisArgument("\(prefix):{h}:history")
        _ = try await client.send(["LSET", key, "1", #"{"content":"edited","role":"user"}"#])
        try await store.commitStep(Self.commit("h", fence: fence, cursor: 1, history: ["m3", "m4"], cap: 3))
        #expect(try await store.history(workflowID: "h", newest: nil).map(\.content) == ["edited", "m3", "m4"])
        #expect(try await store.history(workflowID: "h", newest: 2).map(\.content) == ["m3", "m4"])
        let record = try #require(try await store.load(workflowID: "h", includeArtifacts: false, includeHistory: true))
        #expect(record.historyLength == 3 && record.history.map(\.role) == ["user", "assistant", "assistant"])

        // The history expires with the rest of the run.
        let ttls = try await WriteSafetyTests.ttls(client, prefix, "h", ["run", "steps", "artifacts", "events", "history"])
        #expect(ttls.count == 5 && ttls.allSatisfy { $0 > 50_000 && $0 <= 60_600 }, "\(ttls)")
        #expect(ttls.max()! - ttls.min()! <= 1, "\(ttls)")
      }
    }
  }
}
