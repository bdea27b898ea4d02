import Foundation
import ResumableClient
import ResumableCore
import ResumableRedis
import ResumableStore
import ResumableTestSupport
import ResumableWire
import Testing

/// StartWorkflow / ResumeWorkflow / GetState over the real socket, against a
/// real Redis, through the client library.
@Suite("Workflow RPCs")
struct WorkflowRPCTests {
  @Test func failsAtStepFourThenResumesAtStepFour() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      try await LiveServer.with(redis: redis, workflows: researchYAML(record: record.path)) { server in
        try await server.withClient { client in
          let started = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "research", workflowID: "wf-fail-4", inputJSON: #"{"topic":"x"}"#))
          #expect(started.created)
          let failed = started.state
          #expect(failed.status == .failed)
          #expect(failed.currentStep == "draft")
          #expect(failed.currentStepIndex == 3)
          #expect(failed.steps.map(\.status) == [.completed, .completed, .completed, .failed, .pending])
          #expect(failed.steps[3].attempts == 1)
          #expect(failed.steps[3].lastError.contains("simulated transient failure"))
          #expect(failed.error.contains("draft"))
          #expect(failed.cost.spentMicros == 400_000)
          #expect(failed.cost.savedByResumeMicros == 0)

          let resumed = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "wf-fail-4")).state
          #expect(resumed.status == .completed)
          #expect(resumed.steps.map(\.status) == [.completed, .completed, .completed, .completed, .completed])
          #expect(resumed.steps[3].attempts == 2)
          #expect(resumed.resumes == 1)
          #expect(resumed.error.isEmpty)
          #expect(resumed.cost.spentMicros == 600_000)  // 5 steps + 1 failed attempt
          #expect(resumed.cost.savedByResumeMicros == 300_000)  // steps 1-3 not paid again
          #expect(resumed.steps.prefix(3).allSatisfy { $0.savedMicros == 100_000 })
          #expect(resumed.expiresAtMs > resumed.updatedAtMs)

          // G1: steps 1-3 ran once, step 4 twice (fail, then success), step 5 once.
          #expect(record.executions(of: "wf-fail-4") == ["search": 1, "extract": 1, "outline": 1, "draft": 2, "verify": 1])

          // Resuming a completed run runs nothing.
          let again = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "wf-fail-4")).state
          #expect(again.status == .completed && again.resumes == 1)
          #expect(record.executions(of: "wf-fail-4")["draft"] == 2)
        }
      }
    }
  }

  @Test func stepsReceiveOnlyTheirDeclaredInputs() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: researchYAML(record: "/dev/null")) { server in
        try await server.withClient { client in
          let state = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "echo", workflowID: "echo-1", inputJSON: #"{"q":1}"#)
          ).state
          #expect(state.status == .completed)
          let full = try await client.getState(GetStateRequest(workflowID: "echo-1", includeArtifacts: true)).state
          let artifacts = Dictionary(uniqueKeysWithValues: full.artifacts.map { ($0.step, String(decoding: $0.data, as: UTF8.self)) })
          #expect(artifacts["first"] == #"{"input":{"q":1}}"#)
          #expect(artifacts["second"] == #"{"first":{"input":{"q":1}}}"#)
          // `third` declared input and second, not first.
          #expect(artifacts["third"] == #"{"input":{"q":1},"second":{"first":{"input":{"q":1}}}}"#)
          // Without asking, no artifacts travel.
          let light = try await client.getState(GetStateRequest(workflowID: "echo-1")).state
          #expect(light.artifacts.isEmpty)
          #expect(light.steps.map(\.artifactBytes) == full.artifacts.map { UInt64($0.data.count) })
        }
      }
    }
  }

  @Test func noWaitReturnsRunningAndTheRunFinishes() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: researchYAML(record: "/dev/null")) { server in
        try await server.withClient { client in
          let started = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "slow", workflowID: "nowait-1", noWait: true))
          #expect(started.state.status == .running)
          #expect(started.state.currentStep == "one")
          var state = started.state
          for _ in 0..<100 where state.status == .running {
            try await Task.sleep(for: .milliseconds(50))
            state = try await client.getState(GetStateRequest(workflowID: "nowait-1")).state
          }
          #expect(state.status == .completed)
        }
      }
    }
  }

  @Test func idempotentStartWithConflictPolicies() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      try await LiveServer.with(redis: redis, workflows: researchYAML(record: record.path, failDraft: 0)) { server in
        try await server.withClient { client in
          let first = try await client.startWorkflow(StartWorkflowRequest(workflow: "research", workflowID: "same"))
          #expect(first.created && first.state.status == .completed)
          let error = await #expect(throws: ResumableClientError.self) {
            _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "research", workflowID: "same"))
          }
          #expect(error?.code == .alreadyExists)
          #expect(error?.message.contains("COMPLETED") == true)
          let existing = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "research", workflowID: "same", onConflict: .useExisting))
          #expect(!existing.created && existing.state.status == .completed)
          #expect(record.executions(of: "same").values.allSatisfy { $0 == 1 })

          // Simultaneous starts with one id create one run.
          let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
              group.addTask {
                try await client.startWorkflow(
                  StartWorkflowRequest(workflow: "research", workflowID: "racy", onConflict: .useExisting)
                ).created
              }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
          }
          #expect(results.filter { $0 }.count == 1)
          #expect(record.executions(of: "racy") == ["search": 1, "extract": 1, "outline": 1, "draft": 1, "verify": 1])
        }
      }
    }
  }

  @Test func deadlineBoundsTheCallNotTheRun() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: researchYAML(record: "/dev/null")) { server in
        try await server.withClient { client in
          let error = await #expect(throws: ResumableClientError.self) {
            _ = try await client.startWorkflow(
              StartWorkflowRequest(workflow: "slow", workflowID: "deadline-1"), timeout: .milliseconds(300))
          }
          #expect(error?.code == .deadlineExceeded)
          // The run goes on after its caller gave up. (Under load the create
          // may still be in flight when the deadline fires: NOT_FOUND then.)
          var status: ResumableWire.RunStatus?
          for _ in 0..<100 where status != .completed {
            try await Task.sleep(for: .milliseconds(50))
            status = try? await client.getState(GetStateRequest(workflowID: "deadline-1")).state.status
          }
          #expect(status == .completed)
        }
      }
    }
  }

  @Test func resumeUsesTheRunsSnapshotNotTheCurrentFile() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      let prefix = uniqueKeyPrefix()
      try await LiveServer.with(redis: redis, workflows: researchYAML(record: record.path), keyPrefix: prefix) { server in
        try await server.withClient { client in
          let state = try await client.startWorkflow(StartWorkflowRequest(workflow: "research", workflowID: "snap")).state
          #expect(state.status == .failed)
        }
      }
      // The file now defines `research` with two steps only.
      let edited = """
        workflows:
          - name: research
            steps:
              - {name: only, plugin: echo}
              - {name: other, plugin: echo}
        """
      try await LiveServer.with(redis: redis, workflows: edited, keyPrefix: prefix) { server in
        try await server.withClient { client in
          let state = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "snap")).state
          #expect(state.status == .completed)
          #expect(state.steps.map(\.name) == ["search", "extract", "outline", "draft", "verify"])
        }
      }
      #expect(record.executions(of: "snap") == ["search": 1, "extract": 1, "outline": 1, "draft": 2, "verify": 1])
    }
  }

  @Test func pipelinedCallsOnOneConnection() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: researchYAML(record: "/dev/null")) { server in
        try await server.withClient { client in
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "echo", workflowID: "pipe"))
          // A slow call in flight does not hold up the fast ones behind it.
          async let slow = client.startWorkflow(StartWorkflowRequest(workflow: "slow", workflowID: "pipe-slow"))
          let states = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<200 {
              group.addTask { try await client.getState(GetStateRequest(workflowID: "pipe")).state.workflowID }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
          }
          #expect(states.count == 200 && states.allSatisfy { $0 == "pipe" })
          #expect(try await slow.state.status == .completed)
        }
      }
    }
  }
}

@Suite("Orphaned runs")
struct OrphanedRunTests {
  /// A run whose server died mid-step: RUNNING, step 1's first attempt begun,
  /// a lease nobody renews.
  static func orphan(redis: TestRedis, prefix: String, id: String, workflow: WorkflowDefinition, leaseMs: Int64) async throws {
    try await redis.withClient { client in
      let store = RedisStateStore(client: client, keyPrefix: prefix)
      let now = Int64(Date().timeIntervalSince1970 * 1000)
      let outcome = try await store.create(
        NewRun(
          workflowID: id, definition: workflow, input: Array("null".utf8),
          firstStep: StepProgress().beginningAttempt(at: now),
          timing: WriteTiming(nowMs: now, ttlMs: 60_000, leaseMs: leaseMs)))
      guard case .created = outcome else { throw StoreError(.conflict, "the orphan '\(id)' was not created") }
    }
  }

  /// Runs `body` after orphaning research run `id` with a lease of `leaseMs`.
  static func withOrphan(
    _ id: String, leaseMs: Int64,
    _ body: (_ redis: TestRedis, _ record: RecordFile, _ yaml: String, _ prefix: String) async throws -> Void
  ) async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      let yaml = researchYAML(record: record.path, failDraft: 0)
      let prefix = uniqueKeyPrefix()
      let research = try #require(try LiveServer.parse(yaml).first { $0.name == "research" })
      try await orphan(redis: redis, prefix: prefix, id: id, workflow: research, leaseMs: leaseMs)
      try await body(redis, record, yaml, prefix)
    }
  }

  @Test func resumeWaitsOutALiveLeaseThenTakesOverAtTheInterruptedStep() async throws {
    // The lease must outlive the server's start-up, which under a loaded
    // machine (the whole suite in parallel, beside builds) took over 4 s.
    // No recovery loop: only the resume below may take the run over.
    try await Self.withOrphan("orphan-1", leaseMs: 8000) { redis, record, yaml, prefix in
      try await LiveServer.with(
        redis: redis, workflows: yaml, keyPrefix: prefix, configure: { $0.engine.recoveryInterval = nil }
      ) { server in
        try await server.withClient { client in
          // Not waiting: the run is someone else's while the lease lives.
          let now = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "orphan-1", noWait: true)).state
          #expect(now.status == .running)
          #expect(record.executions(of: "orphan-1").isEmpty)
          // Waiting: followed until the lease lapses, then taken over.
          let state = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "orphan-1")).state
          #expect(state.status == .completed)
          #expect(state.resumes == 1)
          // The interrupted attempt 1 counts: search runs as attempt 2, with a new idempotency key.
          #expect(state.steps[0].attempts == 2)
          #expect(record.lines().first == "orphan-1 search 2")
          #expect(record.executions(of: "orphan-1") == ["search": 1, "extract": 1, "outline": 1, "draft": 1, "verify": 1])
        }
      }
    }
  }

  @Test func aServerWithoutAPluginTheRunNeedsLeavesTheRunToAServerThatHasIt() async throws {
    try await Self.withOrphan("mixed-1", leaseMs: 1) { redis, record, yaml, prefix in
      var echoOnly = PluginRegistry()
      try echoOnly.register(EchoPlugin(), as: EchoPlugin.name)
      let plugins = echoOnly
      // No workflow of its own (its definitions would name a plugin it lacks):
      // it only resumes runs, from their snapshots.
      try await LiveServer.with(
        redis: redis, workflows: "workflows: []", keyPrefix: prefix,
        configure: {
          $0.plugins = plugins
          $0.engine.recoveryInterval = .milliseconds(20)
        }
      ) { server in
        try await server.withClient { client in
          let error = await #expect(throws: ResumableClientError.self) {
            _ = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "mixed-1"))
          }
          #expect(error?.code == .failedPrecondition)
          #expect(error?.message.contains("plugin 'simulate'") == true, "\(String(describing: error))")
          // Its recovery loop has had a pass: the run is untouched, not failed, and put off.
          try await eventually(timeout: .seconds(10)) {
            let due = try await redis.withClient { try await $0.send(["ZSCORE", RedisArgument(RedisStateStore.recoveryIndexKey(keyPrefix: prefix, workflowID: "mixed-1")), "mixed-1"]) }
            guard (due.string.flatMap(Double.init) ?? 0) > Date().timeIntervalSince1970 * 1000 + 5_000 else {
              throw CancellationError()
            }
          }
          let state = try await client.getState(GetStateRequest(workflowID: "mixed-1")).state
          #expect(state.status == .running && state.resumes == 0)
          #expect(record.lines().isEmpty)
        }
      }
      // Its check is put off by a lease duration; a server that has the plugin adopts it then.
      _ = try await redis.withClient { try await $0.send(["ZADD", RedisArgument(RedisStateStore.recoveryIndexKey(keyPrefix: prefix, workflowID: "mixed-1")), "0", "mixed-1"]) }
      try await LiveServer.with(
        redis: redis, workflows: yaml, keyPrefix: prefix, configure: { $0.engine.recoveryInterval = .milliseconds(20) }
      ) { server in
        try await server.withClient { client in
          try await eventually(timeout: .seconds(20)) {
            let state = try await client.getState(GetStateRequest(workflowID: "mixed-1")).state
            guard state.status == .completed else { throw TestSupportError("\(state.status)") }
          }
        }
      }
    }
  }

  @Test func startWithUseExistingReturnsAFailedRunWithoutResumingIt() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      try await LiveServer.with(redis: redis, workflows: researchYAML(record: record.path)) { server in
        try await server.withClient { client in
          let failed = try await client.startWorkflow(StartWorkflowRequest(workflow: "research", workflowID: "ue-1")).state
          #expect(failed.status == .failed)
          let again = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "research", workflowID: "ue-1", onConflict: .useExisting))
          #expect(!again.created && again.state.status == .failed && again.state.resumes == 0)
          #expect(record.executions(of: "ue-1")["draft"] == 1)
          let error = await #expect(throws: ResumableClientError.self) {
            _ = try await client.startWorkflow(
              StartWorkflowRequest(workflow: "echo", workflowID: "ue-1", onConflict: .useExisting))
          }
          #expect(error?.code == .alreadyExists)
          #expect(error?.message.contains("research") == true)
        }
      }
    }
  }
}
