import ResumableCore
import ResumableRedis
import ResumableStore
import ResumableTestSupport
import Testing

/// `waitReplicas`: each write of a run is followed by `WAIT` on its connection.
@Suite("Replica wait")
struct ReplicaWaitTests {
  /// How many `WAIT`s Redis ran.
  static func waitCalls(_ client: RedisClient) async throws -> Int {
    let stats = try await client.send(["INFO", "commandstats"]).string ?? ""
    guard let line = stats.split(separator: "\r\n").first(where: { $0.hasPrefix("cmdstat_wait:calls=") }) else { return 0 }
    return Int(line.dropFirst("cmdstat_wait:calls=".count).prefix { $0.isNumber }) ?? 0
  }

  @Test func aWriteNoReplicaAcknowledgedIsUnavailableAndReadsDoNotWait() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let prefix = uniqueKeyPrefix()
        // A Redis without replicas: WAIT 1 answers 0 once its timeout passes.
        let waiting = RedisStateStore(client: client, keyPrefix: prefix, waitReplicas: 1, replicaTimeout: .milliseconds(20))
        let error = await #expect(throws: StoreError.self) { _ = try await RedisStateStoreTests.create(waiting, "w-1") }
        #expect(error?.kind == .unavailable)
        #expect(error?.message.contains("reached 0 of the 1 replica(s) required within 20 ms") == true, "\(error?.message ?? "")")
        // The write itself happened on the master (it is idempotent; the engine retries it).
        let record = try #require(try await waiting.load(workflowID: "w-1", includeArtifacts: false))
        #expect(record.status == .running)
        let waits = try await Self.waitCalls(client)
        #expect(waits >= 1)
        // Without a replica count nothing waits.
        let plain = RedisStateStore(client: client, keyPrefix: prefix)
        #expect(try await RedisStateStoreTests.create(plain, "w-2") > 0)
        #expect(try await Self.waitCalls(client) == waits)
      }
    }
  }
}
