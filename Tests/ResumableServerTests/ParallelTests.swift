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
      - name: mapper
        parallel: true
        steps:
          - name: each
            plugin: simulate
            inputs: [input]
            map: {over: input.docs, max_parallel: 6}
            config: {latency_ms: 20, cost_usd: 0.01, fail_items: [2, 4], record: \(record)}
            retry: {max_attempts: 1}
          - {name: join, plugin: echo, inputs: [each]}
      - name: chained
        parallel: true
        steps:
          - {name: list, plugin: echo, inputs: [input]}
          - {name: each, plugin: echo, inputs: [list], map: {over: list.input, max_items: 3}}
      - name: slowmap
        parallel: true
        steps:
          - {name: slow, plugin: simulate, inputs: [input], map: {over: input}, config: {latency_ms: 2000}}
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

  @Test func aMapCommitsEachItemAndAResumeRunsOnlyTheFailedItems() async throws {
    try await Self.withServer { client, record in
      let input = #"{"docs": ["d0", "d1", "d2", "d3", "d4", "d5"]}"#
      let failed = try await client.startWorkflow(
        StartWorkflowRequest(workflow: "mapper", workflowID: "m-1", inputJSON: input)).state
      #expect(failed.status == .failed)
      let each = failed.steps[0]
      #expect(each.status == .failed && each.itemsTotal == 6 && each.itemsCommitted == 4 && each.itemsFailed == 2)
      #expect(failed.error.contains("each[2]") || failed.error.contains("each[4]"))
      let items = try await client.getState(GetStateRequest(workflowID: "m-1", includeItems: true)).state.items
      #expect(items.map(\.name) == (0..<6).map { "each[\($0)]" })
      #expect(items.map(\.status) == [.completed, .completed, .failed, .completed, .failed, .completed])

      let resumed = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "m-1")).state
      #expect(resumed.status == .completed, "\(resumed.error)")
      #expect(resumed.steps[0].itemsCommitted == 6 && resumed.steps[0].itemsTotal == 6)
      // Items 0, 1, 3 and 5 ran once; 2 and 4 twice (their first attempt failed).
      #expect(
        record.executions(of: "m-1")
          == ["each[0]": 1, "each[1]": 1, "each[2]": 2, "each[3]": 1, "each[4]": 2, "each[5]": 1])
      #expect(resumed.cost.savedByResumeMicros == 40_000)
      #expect(resumed.cost.spentMicros == 80_000)
      // The step's artifact: the six results, in order; the join read it.
      let full = try await client.getState(GetStateRequest(workflowID: "m-1", includeArtifacts: true)).state
      let list = try #require(
        try JSONSerialization.jsonObject(with: Data(full.artifacts[0].data)) as? [[String: Any]])
      #expect(list.map { $0["step"] as? String } == (0..<6).map { "each[\($0)]" })
      #expect(full.steps[1].inputsGiven.map(\.name) == ["each"])
    }
  }

  @Test func aMapOverAStepsFieldGivesEachItemItsElementAndIndex() async throws {
    try await Self.withServer { client, _ in
      let state = try await client.startWorkflow(
        StartWorkflowRequest(workflow: "chained", workflowID: "m-2", inputJSON: #"["x", "y", "z"]"#)).state
      #expect(state.status == .completed, "\(state.error)")
      let full = try await client.getState(GetStateRequest(workflowID: "m-2", includeArtifacts: true)).state
      #expect(String(decoding: full.artifacts[1].data, as: UTF8.self)
        == #"[{"index":0,"item":"x","list":{"input":["x","y","z"]}},{"index":1,"item":"y","list":{"input":["x","y","z"]}},{"index":2,"item":"z","list":{"input":["x","y","z"]}}]"#)

      // Too long a list, and not a list: the step fails at once, not retried, saying why.
      let long = try await client.startWorkflow(
        StartWorkflowRequest(workflow: "chained", workflowID: "m-3", inputJSON: #"[1, 2, 3, 4]"#)).state
      #expect(long.status == .failed && long.steps[1].lastErrorClass == .nonRetryable)
      #expect(long.steps[1].lastError.contains("has 4 items; the limit is max_items 3"))
      let text = try await client.startWorkflow(
        StartWorkflowRequest(workflow: "chained", workflowID: "m-4", inputJSON: #""prose""#)).state
      #expect(text.status == .failed && text.steps[1].lastError.contains("must be a list, not a string"))
    }
  }

  @Test func watchEventsOfItemsCarryTheirIndex() async throws {
    try await Self.withServer { client, _ in
      _ = try await client.startWorkflow(
        StartWorkflowRequest(workflow: "slowmap", workflowID: "m-6", inputJSON: "[10, 20]", noWait: true))
      var committed: [String: Int32] = [:]
      for try await frame in client.watchWorkflow(WatchWorkflowRequest(workflowID: "m-6")) {
        let event = frame.event
        if event.type == "step_committed" { committed[event.step] = event.itemIndex }
      }
      // Each item's commit names its index; the step's own commit has none.
      #expect(committed == ["slow[0]": 0, "slow[1]": 1, "slow": -1])
    }
  }

  @Test func aReRunFromABranchRunsItAndWhatIsDownstreamOnly() async throws {
    try await Self.withServer { client, record in
      let first = try await client.startWorkflow(StartWorkflowRequest(workflow: "diamond", workflowID: "r-1")).state
      #expect(first.status == .completed)
      let again = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "r-1", fromStep: "b")).state
      #expect(again.status == .completed, "\(again.error)")
      // b and d (downstream of b) ran again; a and c (not downstream) did not.
      #expect(record.executions(of: "r-1") == ["a": 1, "b": 2, "c": 1])
      #expect(again.steps.map(\.attempts) == [1, 2, 1, 2])
      #expect(again.cost.savedByResumeMicros == 40_000)
    }
  }
}
