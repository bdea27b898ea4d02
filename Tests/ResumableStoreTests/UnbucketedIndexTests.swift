import ResumableCore
import ResumableRedis
import ResumableStore
import ResumableTestSupport
import Testing

/// A store an older build wrote: one key per index. Opening it moves the entries into the buckets.
@Suite("Unbucketed indexes")
struct UnbucketedIndexTests {
  @Test func theOldIndexesMoveIntoTheirBucketsOnceAndNothingIsLost() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        let store = RedisStateStore(client: client, keyPrefix: prefix)
        #expect(try await store.moveUnbucketedIndexes() == 0, "nothing to move in a new store")
        // Runs written as an older server did: their keys as now, the indexes in one key each.
        let past = RecoveryIndexTests.now() - 60_000
        for index in 0..<40 {
          try await RecoveryIndexTests.create(store, "old-\(index)", nowMs: past + Int64(index), leaseMs: 1)
        }
        let registered = try await store.registerWorkflow(RecoveryIndexTests.definition)
        var moveBack: [[RedisArgument]] = []
        for index in 0..<40 {
          let id = "old-\(index)"
          moveBack.append(["ZADD", RedisArgument("\(prefix):runs"), RedisArgument(past + Int64(index)), RedisArgument(id)])
          moveBack.append(["ZADD", RedisArgument("\(prefix):recovery"), RedisArgument(past), RedisArgument(id)])
          moveBack.append(["ZREM", RedisArgument(RedisStateStore.runListKey(keyPrefix: prefix, workflowID: id)), RedisArgument(id)])
          moveBack.append(["ZREM", RedisArgument(RedisStateStore.recoveryIndexKey(keyPrefix: prefix, workflowID: id)), RedisArgument(id)])
        }
        let name = RecoveryIndexTests.definition.name
        moveBack.append(["RENAME", RedisArgument(RedisStateStore.registeredWorkflowsKey(keyPrefix: prefix, name: name)), RedisArgument("\(prefix):workflows")])
        _ = try await client.pipeline(moveBack)
        #expect(try await store.listRuns(RunQuery()).runs.isEmpty, "the buckets are empty before the move")
        #expect(try await store.registeredWorkflow(named: name) == nil)

        // Each entry moves (a run, its index entry, the registration), the old keys go.
        #expect(try await store.moveUnbucketedIndexes() == 40 + 40 + 1)
        for key in ["runs", "recovery", "workflows"] {
          #expect(try await client.send(["EXISTS", RedisArgument("\(prefix):\(key)")]).int == 0, "\(key)")
        }
        let listed = try await store.listRuns(RunQuery(limit: 100)).runs.map(\.workflowID)
        #expect(listed == (0..<40).reversed().map { "old-\($0)" }, "newest first, as before")
        #expect(Set(try await RecoveryIndexTests.dueIDs(store)) == Set((0..<40).map { "old-\($0)" }))
        #expect(try await store.registeredWorkflow(named: name) == RecoveryIndexTests.definition)
        #expect(try await store.registerWorkflow(RecoveryIndexTests.definition) == (registered.version, false))
        #expect(try await store.moveUnbucketedIndexes() == 0, "idempotent")
        // A server that could not move them when it opened the store does it on its first recovery pass.
        _ = try await client.pipeline([
          ["ZREM", RedisArgument(RedisStateStore.recoveryIndexKey(keyPrefix: prefix, workflowID: "old-0")), "old-0"],
          ["ZADD", RedisArgument("\(prefix):recovery"), RedisArgument(past), "old-0"],
        ])
        let later = RedisStateStore(client: client, keyPrefix: prefix)
        #expect(try await RecoveryIndexTests.dueIDs(later).contains("old-0"))
        #expect(try await client.send(["EXISTS", RedisArgument("\(prefix):recovery")]).int == 0)
      }
    }
  }
}
