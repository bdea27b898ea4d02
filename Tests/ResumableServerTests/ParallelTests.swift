import Foundation
import ResumableClient
import ResumableTestSupport
import ResumableWire
import Testing

/// Parallel workflows (`parallel: true`): ready steps run at once, each
/// committed on its own; a resume runs only what is not committed. Real
/// server, real Redis.
@Suite("Parallel steps", .timeLimit(.minutes(2)))
struct ParallelTests {
  static func yaml(record: String) -> String {
    """
    workflows:
      - name: diamond
        parallel: true
        steps:
          - {name: a, plugin: simulate, inputs: [input], config: {latency_ms: 0, cost_usd: 0.01, record: \(record)}}
          - {name: b, plugin: simulate, inputs: [a], config: {latency_ms: 600, cost_usd: 0.02, record: \(record)}}
          - {name: c, plugin: simulate, inputs: [a], config: {latency_ms: 600, cost_usd: 0.03, record: \(record)}}
          - {name: d, plugin: echo, inputs: [b, c]}
      - name: flaky
        parallel: true
        steps:
          - {name: a, plugin: simulate, config: {latency_ms: 0, cost_usd: 0.01, record: \(record)}}
          - name: b
            plugin: simulate
            inputs: [a]
            config: {latency_ms: 0, fail_attempts: 1, cost_usd: 0.02, record: \(record)}
            retry: {max_attempts: 1}
          - {name: c, plugin: simulate, inputs: [a], config: {latency_ms: 300, cost_usd: 0.03, record: \(record)}}
          - {name: d, plugin: simulate, after: [b, c], config: {latency_ms: 0, cost_usd: 0.04, record: \(record)}}
      - name: fanout
        parallel: true
        max_parallel: 2
        steps:
          - {name: s1, plugin: simulate, config: {latency_ms: 300}}
          - {name: s2, plugin: simulate, config: {latency_ms: 300}}
          - {name: s3, plugin: simulate, config: {latency_ms: 300}}
          - {name: s4, plugin: simulate, config: {latency_ms: 300}}
      - name: doomed
        parallel: true
        on_failure: cancel
        steps:
          - {name: slow, plugin: simulate, config: {latency_ms: 5000, record: \(record)}}
          - {name: bad, plugin: simulate, config: {latency_ms: 100, fail_permanently: true}}
    """
  }

  /// A server on a fresh Redis with the workflows above, and its client and record file.
  static func withServer(_ body: (ResumableClient, RecordFile) async throws -> Void) async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      try await LiveServer.with(redis: redis, workflows: Self.yaml(record: record.path)) { server in
        try await server.withClient { client in try await body(client, record) }
      }
    }
  }

  @Test func independentStepsOverlapAndTheJoinWaitsForBoth() async throws {
    try await Self.withServer { client, record in
          let state = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "diamond", workflowID: "p-1", inputJSON: #"{"q":1}"#)).state
          #expect(state.status == .completed, "\(state.error)")
          let (b, c, d) = (state.steps[1], state.steps[2], state.steps[3])
          // b and c ran at once: each started before the other finished.
          #expect(b.startedAtMs < c.finishedAtMs && c.startedAtMs < b.finishedAtMs)
          // d started after both had finished, and read both.
          #expect(d.startedAtMs >= max(b.finishedAtMs, c.finishedAtMs))
          #expect(d.inputsGiven.map(\.name) == ["b", "c"])
          #expect(state.steps.map(\.attempts) == [1, 1, 1, 1])
          #expect(state.cost.spentMicros == 60_000)
          #expect(state.currentStep == "d" && state.runningSteps.isEmpty)
          #expect(record.executions(of: "p-1") == ["a": 1, "b": 1, "c": 1])
    }
  }

  @Test func aFailedBranchLetsTheOtherCommitAndAResumeRunsOnlyWhatIsLeft() async throws {
    try await Self.withServer { client, record in
          let failed = try await client.startWorkflow(StartWorkflowRequest(workflow: "flaky", workflowID: "p-2")).state
          #expect(failed.status == .failed)
          // on_failure: finish — c, running beside the failed b, finished and committed; d never started.
          #expect(failed.steps.map(\.status) == [.completed, .failed, .completed, .pending])
          #expect(failed.error.contains("step 'b'"))
          #expect(failed.cost.spentMicros == 60_000)

          let resumed = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "p-2")).state
          #expect(resumed.status == .completed, "\(resumed.error)")
          #expect(resumed.steps.map(\.attempts) == [1, 2, 1, 1])
          // Only b ran again (then d): a and c were not paid again.
          #expect(record.executions(of: "p-2") == ["a": 1, "b": 2, "c": 1, "d": 1])
          #expect(resumed.cost.savedByResumeMicros == 40_000)
          #expect(resumed.cost.spentMicros == 120_000)
    }
  }

  @Test func noMoreThanMaxParallelStepsRunAtOnce() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.yaml(record: "/dev/null")) { server in
        try await server.withClient { client in
          let state = try await client.startWorkflow(StartWorkflowRequest(workflow: "fanout", workflowID: "p-3")).state
          #expect(state.status == .completed)
          // At every step's start, fewer than 2 others were running.
          for step in state.steps {
            let overlapping = state.steps.filter {
              $0.name != step.name && $0.startedAtMs <= step.startedAtMs && $0.finishedAtMs > step.startedAtMs
            }
            #expect(overlapping.count <= 1, "\(step.name) started beside \(overlapping.map(\.name))")
          }
          // …and two did run at once.
          #expect(state.steps.contains { step in
            state.steps.contains { $0.name != step.name && $0.startedAtMs < step.finishedAtMs && step.startedAtMs < $0.finishedAtMs }
          })
        }
      }
    }
  }

  @Test func onFailureCancelStopsTheOthersAndCommitsNothingOfThem() async throws {
    try await Self.withServer { client, record in
          let state = try await client.startWorkflow(StartWorkflowRequest(workflow: "doomed", workflowID: "p-4")).state
          #expect(state.status == .failed)
          #expect(state.steps[1].status == .failed && state.error.contains("step 'bad'"))
          // The slow step was cancelled, not let finish (as `finish` would): it never committed.
          #expect(state.steps[0].status != .completed && state.steps[0].artifactBytes == 0)
          let full = try await client.getState(GetStateRequest(workflowID: "p-4", includeArtifacts: true)).state
          #expect(full.artifacts.isEmpty)
    }
  }
}
