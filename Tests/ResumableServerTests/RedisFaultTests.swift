import Foundation
import ResumableClient
import ResumableRedis
import ResumableTestSupport
import ResumableWire
import Testing

/// A real `resumable serve` against a Redis that hangs (`SIGSTOP`) or may evict keys.
@Suite("Redis faults")
struct RedisFaultTests {
  @Test func aStoppedRedisIsAnsweredWithinTheDeadlineAndRunsRecover() async throws {
    try await withTestRedis { redis in
      try await withTemporaryDirectory { directory in
        let yaml = researchYAML(record: RecordFile(in: directory).path)
        try await ServeProcess.withServe(
          redis: redis, yaml: yaml, directory: directory, extraArguments: ["--redis-timeout", "1", "--lease-seconds", "3"]
        ) { _, server in
          try await server.withClient { client in
            let started = try await client.startWorkflow(
              StartWorkflowRequest(workflow: "slow", workflowID: "through-the-stop", noWait: true)
            ).state
            #expect(started.status == .running)
            try await redis.whileFrozen {
              // Generous bounds: the point is that they answer at all.
              let health = try await answered(within: .seconds(10), "Health") { try await client.health() }.get()
              #expect(health.status == "NOT_SERVING")
              #expect(!health.redisReachable)
              #expect(health.redisError.contains("did not answer within 1 s"), "\(health.redisError)")
              let state = try await answered(within: .seconds(10), "GetState") {
                try await client.getState(GetStateRequest(workflowID: "through-the-stop"))
              }
              let error = try #require(state.failureValue as? ResumableClientError, "\(state)")
              #expect(error.code == .unavailable, "\(error)")
            }
            // Thawed: the run in flight is finished (by its runner or by recovery), and new
            // runs complete.
            let finished = try await eventually(timeout: .seconds(30), interval: .milliseconds(100)) {
              let state = try await client.getState(GetStateRequest(workflowID: "through-the-stop")).state
              guard state.status == .completed else { throw TestSupportError("still \(state.status)") }
              return state
            }
            #expect(finished.steps.map(\.status) == [.completed, .completed])
            let after = try await client.startWorkflow(
              StartWorkflowRequest(workflow: "echo", workflowID: "after-the-stop", inputJSON: #"{"n": 1}"#)
            ).state
            #expect(after.status == .completed)
            #expect(try await client.health().status == "SERVING")
          }
        }
      }
    }
  }

  /// The cause of an outage reaches the person once, in one sentence with what to do.
  @Test func aRedisThatIsNotThereIsOneSentenceNamingTheCauseOnce() async throws {
    try await withTemporaryDirectory { directory in
      let missing = directory.appending("no-redis.sock")
      let serve = try await ServeProcess.start(["--redis", "unix://\(missing)"], in: directory)
      let answer = try await ChildProcess.run(["state", "some-run", "--socket", serve.socket], in: directory)
      _ = await serve.stop()
      let line = answer.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
      #expect(answer.status != 0)
      #expect(line.hasPrefix("error: UNAVAILABLE: Redis at unix://\(missing) is unavailable: No such file or directory"), "\(line)")
      #expect(line.hasSuffix("retry shortly — nothing committed is lost"), "\(line)")
      #expect(line.components(separatedBy: "No such file or directory").count == 2, "the cause once: \(line)")
      #expect(!line.contains("errno") && !line.contains("cause:") && !line.contains("\n"), "\(line)")
    }
  }

  @Test func redisTimeoutMustBePositive() async throws {
    try await withTemporaryDirectory { directory in
      for value in ["0", "-1", "soon"] {
        let child = try ChildProcess(["serve", "--redis-timeout", value], in: directory)
        #expect(await child.wait() != 0)
        #expect(child.stderr.contains("--redis-timeout"), "\(child.stderr)")
      }
    }
  }

  /// Every key of a run has a TTL: under an evicting policy a full Redis may take one key of
  /// a run alone. The server says so at start and in `Health`, which stays SERVING.
  @Test(arguments: ["allkeys-lru", "noeviction"])
  func anEvictingPolicyIsWarnedAboutAndReported(policy: String) async throws {
    try await withTestRedis(extraArguments: ["--maxmemory-policy", policy]) { redis in
      try await withTemporaryDirectory { directory in
        let yaml = researchYAML(record: RecordFile(in: directory).path)
        try await ServeProcess.withServe(redis: redis, yaml: yaml, directory: directory) { _, server in
          let health = try await server.withClient { try await $0.health() }
          #expect(health.status == "SERVING")
          #expect(health.redisReachable)
          let warning = "maxmemory-policy is allkeys-lru"
          if policy == "noeviction" {
            #expect(health.redisError.isEmpty, "\(health.redisError)")
            #expect(!server.stderr.contains("maxmemory-policy"), "\(server.stderr)")
          } else {
            #expect(health.redisError.contains(warning), "\(health.redisError)")
            #expect(health.redisError.contains("set maxmemory-policy noeviction"), "\(health.redisError)")
            let log = server.stderr
            #expect(log.contains("warning") && log.contains(warning), "\(log)")
            #expect(log.contains("set maxmemory-policy noeviction"), "\(log)")

            // Fixed, and the server's connection dropped: the reconnect reads the policy again.
            try await redis.withClient { admin in
              #expect(try await admin.send(["CONFIG", "SET", "maxmemory-policy", "noeviction"]) == .simpleString("OK"))
              _ = try await admin.send(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"])
            }
            try await eventually(timeout: .seconds(10)) {
              let health = try await server.withClient { try await $0.health() }
              guard health.redisReachable, health.redisError.isEmpty else {
                throw TestSupportError("still \(health.redisError)")
              }
            }
          }
        }
      }
    }
  }
}
