import Foundation
import ResumableCore
import ResumableRedis
import ResumableStore
import ResumableTestSupport
import Testing

/// The recovery index against a real redis-server: which runs fall due, what
/// a claim takes, what leaves the index and what must stay in it.
@Suite("Recovery index")
struct RecoveryIndexTests {
  static let definition = RedisStateStoreTests.definition

  static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

  /// Creates run `id` as a server at `nowMs` would, with a lease of `leaseMs`;
  /// returns its first fencing token.
  @discardableResult
  static func create(_ store: RedisStateStore, _ id: String, nowMs: Int64 = now(), leaseMs: Int64 = 10_000) async throws
    -> UInt64
  {
    let outcome = try await store.create(
      NewRun(
        workflowID: id, definition: definition, input: Array("{}".utf8),
        firstStep: StepProgress().beginningAttempt(at: nowMs),
        timing: WriteTiming(nowMs: nowMs, ttlMs: 60_000, leaseMs: leaseMs)))
    guard case .created(let fence) = outcome else { throw StoreError(.conflict, "run '\(id)' was not created") }
    return fence
  }

  static func dueIDs(_ store: RedisStateStore) async throws -> [String] {
    try await store.recoveryCandidates(limit: 1000).map(\.workflowID)
  }

  static func score(_ client: RedisClient, prefix: String, _ id: String) async throws -> String? {
    try await client.send(["ZSCORE", RedisArgument(RedisStateStore.recoveryIndexKey(keyPrefix: prefix, workflowID: id)), RedisArgument(id)]).string
  }

  @Test func aRunFallsDueWhenItsLeaseMayHaveLapsedAndIsClaimedOnlyThen() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        try await Self.create(store, "live", leaseMs: 30_000)
        #expect(try await Self.dueIDs(store).isEmpty, "nothing is due while leases live")
        let score = try #require(try await Self.score(client, prefix: prefix, "live"))
        #expect(Int64(Double(score) ?? 0) >= Self.now() + 20_000, "due when the lease may lapse")
        // A run whose server died a minute ago, its lease long lapsed.
        let dying = try await Self.create(store, "dying", nowMs: Self.now() - 60_000, leaseMs: 1)
        try await waitUntilGone("\(prefix):{dying}:lease", in: client)
        let due = try await store.recoveryCandidates(limit: 10)
        #expect(due.map(\.workflowID) == ["dying"])
        #expect(try await store.claimForRecovery(due[0], lease: .seconds(10), failedRetention: .seconds(60)) == .acquired(fence: dying + 1))
        // Claimed: a second server's claim finds the lease held.
        #expect(try await store.claimForRecovery(due[0], lease: .seconds(10), failedRetention: .seconds(60)) == .held)
        #expect(try await Self.dueIDs(store).isEmpty, "a held lease postpones the check")
      }
    }
  }

  @Test func aHeldLeaseIsCheckedAgainWhenItMayLapse() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        // Indexed as due already (its server's clock is behind), but its lease lives 20 s more.
        let created = Self.now()
        let first = try await Self.create(store, "r", nowMs: Self.now() - 60_000, leaseMs: 20_000)
        let due = try #require(try await store.recoveryCandidates(limit: 10).first)
        #expect(try await store.claimForRecovery(due, lease: .seconds(10), failedRetention: .seconds(60)) == .held)
        #expect(try await Self.dueIDs(store).isEmpty)
        // Rescheduled to when that lease may lapse (Redis' PTTL): about 20 s after its
        // creation, however long a loaded machine took since — not a fixed delay from now.
        let score = Int64(Double(try #require(try await Self.score(client, prefix: prefix, "r"))) ?? 0)
        #expect(score >= created + 19_000 && score <= Self.now() + 20_000)
        // Once it has lapsed, the next check takes it.
        _ = try await client.send(["DEL", RedisArgument("\(prefix):{r}:lease")])
        _ = try await client.send(["ZADD", RedisArgument(RedisStateStore.recoveryIndexKey(keyPrefix: prefix, workflowID: "r")), "0", "r"])
        let again = try #require(try await store.recoveryCandidates(limit: 10).first)
        #expect(again.workflowID == "r")
        #expect(try await store.claimForRecovery(again, lease: .seconds(10), failedRetention: .seconds(60)) == .acquired(fence: first + 1))
      }
    }
  }

  @Test func endedAndExpiredRunsLeaveTheIndex() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        let past = Self.now() - 60_000
        // A run completed by a server that died before it released its lease.
        let done = try await Self.create(store, "done", nowMs: past, leaseMs: 1)
        for cursor in 0..<3 {
          try await store.commitStep(RedisStateStoreTests.commit("done", fence: done, cursor: cursor))
        }
        // A run whose keys expired.
        try await Self.create(store, "expired", nowMs: past, leaseMs: 1)
        _ = try await client.send(["DEL", RedisArgument("\(prefix):{expired}:run")])
        try await waitUntilGone("\(prefix):{expired}:lease", in: client)
        let due = try await store.recoveryCandidates(limit: 10)
        #expect(Set(due.map(\.workflowID)) == ["done", "expired"])
        for candidate in due {
          let claim = try await store.claimForRecovery(candidate, lease: .seconds(10), failedRetention: .seconds(60))
          #expect(claim == (candidate.workflowID == "done" ? .ended(.completed) : .gone))
          #expect(try await Self.score(client, prefix: prefix, candidate.workflowID) == nil)
        }
        // Ended: the check took no lease (the fencing token did not move).
        #expect(try await client.send(["HGET", RedisArgument("\(prefix):{done}:run"), "fence"]).string == "\(done)")
      }
    }
  }

  @Test func anEntryRewrittenAfterItWasReadIsKept() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        let first = try await Self.create(store, "f", nowMs: Self.now() - 60_000, leaseMs: 1)
        try await store.recordFailure(
          AttemptFailure(
            workflowID: "f", fence: first, cursor: 0, stepName: "a",
            step: StepProgress(status: .failed, attempts: 1), usage: StepUsage(), runError: "boom",
            timing: WriteTiming(nowMs: Self.now(), ttlMs: 60_000, leaseMs: 1)))
        try await waitUntilGone("\(prefix):{f}:lease", in: client)
        let stale = try #require(try await store.recoveryCandidates(limit: 10).first)
        // Meanwhile a resume on another server takes the run and indexes it again.
        guard case .acquired(let fence) = try await store.acquireLease(workflowID: "f", ttl: .seconds(10)) else {
          Issue.record("the failed run's lease was not free")
          return
        }
        let now = Self.now()
        try await store.beginAttempt(
          AttemptBegin(
            workflowID: "f", fence: fence, cursor: 0, stepName: "a", step: StepProgress().beginningAttempt(at: now),
            resume: ResumeMark(savedMicros: 0, updatedSteps: [:]),
            timing: WriteTiming(nowMs: now, ttlMs: 60_000, leaseMs: 10_000)))
        // The stale candidate's check must not drop the resumed run's entry.
        #expect(try await store.claimForRecovery(stale, lease: .seconds(10), failedRetention: .seconds(60)) == .held)
        let score = try #require(try await Self.score(client, prefix: prefix, "f"))
        #expect(Int64(Double(score) ?? 0) >= now + 9_000)
      }
    }
  }

  @Test func releaseUnindexesAnEndedRunAndMakesALiveOneDueAtOnce() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        let first = try await Self.create(store, "r")
        #expect(try await Self.dueIDs(store).isEmpty)
        // A graceful shutdown leaves the run RUNNING and gives its lease up.
        try await store.releaseLease(workflowID: "r", fence: first, runEnded: false)
        let due = try await store.recoveryCandidates(limit: 10)
        #expect(due.map(\.workflowID) == ["r"])
        #expect(try await store.claimForRecovery(due[0], lease: .seconds(10), failedRetention: .seconds(60)) == .acquired(fence: first + 1))
        // The stale token changes nothing; the holder's end-of-run release unindexes.
        try await store.releaseLease(workflowID: "r", fence: first, runEnded: true)
        #expect(try await client.send(["GET", RedisArgument("\(prefix):{r}:lease")]).string == "\(first + 1)")
        try await store.releaseLease(workflowID: "r", fence: first + 1, runEnded: true)
        #expect(try await Self.score(client, prefix: prefix, "r") == nil)
        #expect(try await client.send(["EXISTS", RedisArgument("\(prefix):{r}:lease")]).int == 0)
      }
    }
  }

  @Test func findingDueRunsAmongManyNeverScansTheKeyspace() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        let past = Self.now() - 60_000
        for index in 0..<300 {
          // Every tenth is orphaned (its lease lapsed); the rest are alive.
          try await Self.create(store, "run-\(index)", nowMs: index % 10 == 0 ? past : Self.now(), leaseMs: index % 10 == 0 ? 1 : 30_000)
        }
        for index in stride(from: 0, to: 300, by: 10) {
          try await waitUntilGone("\(prefix):{run-\(index)}:lease", in: client)
        }
        _ = try await client.send(["CONFIG", "RESETSTAT"])
        let due = try await store.recoveryCandidates(limit: 1000)
        #expect(due.count == 30)
        for candidate in due {
          guard case .acquired = try await store.claimForRecovery(candidate, lease: .seconds(10), failedRetention: .seconds(60)) else {
            Issue.record("\(candidate.workflowID) was not claimed")
            continue
          }
        }
        let stats = try #require(try await client.send(["INFO", "commandstats"]).string)
        #expect(!stats.contains("cmdstat_keys:") && !stats.contains("cmdstat_scan:"), "\(stats)")
        // One read of each bucket of the index, in one pipeline.
        #expect(stats.contains("cmdstat_zrangebyscore:calls=\(RedisStateStore.runListKeys(keyPrefix: prefix).count),"))
      }
    }
  }
}
