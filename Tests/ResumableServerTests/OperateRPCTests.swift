import Foundation
import ResumableClient
import ResumableCore
import ResumableRedis
import ResumableStore
import ResumableTestSupport
import ResumableWire
import Testing

/// ListWorkflows, CancelWorkflow, ResumeWorkflow.from_step, Health and retention over
/// the real socket, against a real Redis.
@Suite("Operating runs")
struct OperateRPCTests {
  static func expectError(_ code: StatusCode, _ body: () async throws -> Void, mentioning: String? = nil) async {
    guard let error = await clientError(body) else {
      Issue.record("expected \(code)")
      return
    }
    #expect(error.code == code, "\(error)")
    if let mentioning { #expect(error.message.contains(mentioning), "\(error.message)") }
  }

  @Test func listIsNewestFirstFilteredAndPaginated() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: researchYAML(record: "/dev/null")) { server in
        try await server.withClient { client in
          for index in 0..<5 {
            _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "echo", workflowID: "e-\(index)", inputJSON: "\(index)"))
            try await Task.sleep(for: .milliseconds(3))
          }
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "research", workflowID: "r-1"))  // fails at draft
          let all = try await client.listWorkflows(ListWorkflowsRequest())
          #expect(all.runs.map(\.workflowID) == ["r-1", "e-4", "e-3", "e-2", "e-1", "e-0"])
          #expect(all.nextCursor.isEmpty)
          let failed = try await client.listWorkflows(ListWorkflowsRequest(status: .failed))
          #expect(failed.runs.map(\.workflowID) == ["r-1"])
          #expect(failed.runs[0].currentStep == "draft" && failed.runs[0].stepCount == 5 && failed.runs[0].error.contains("draft"))
          let echo = try await client.listWorkflows(ListWorkflowsRequest(workflow: "echo"))
          #expect(echo.runs.count == 5 && echo.runs.allSatisfy { $0.status == .completed })
          // Pages of two, following the cursor, cover every run once.
          var seen: [String] = []
          var cursor = ""
          repeat {
            let page = try await client.listWorkflows(ListWorkflowsRequest(pageSize: 2, cursor: cursor))
            #expect(page.runs.count <= 2)
            seen += page.runs.map(\.workflowID)
            cursor = page.nextCursor
          } while !cursor.isEmpty
          #expect(seen == all.runs.map(\.workflowID))
          await Self.expectError(.invalidArgument, { _ = try await client.listWorkflows(ListWorkflowsRequest(cursor: "garbage")) }, mentioning: "cursor")
          await Self.expectError(.invalidArgument, { _ = try await client.listWorkflows(ListWorkflowsRequest(pageSize: 5000)) })
          // A run whose keys expired disappears from the list, and from its index
          // (an expired run was created at least its TTL ago: its entry is backdated,
          // as entries younger than the store's grace may be runs being created).
          let e2Entry = RedisArgument(RedisStateStore.runListKey(keyPrefix: server.keyPrefix, workflowID: "e-2"))
          let hourAgo = RedisArgument(Int64(Date().timeIntervalSince1970 * 1000) - 3_600_000)
          _ = try await redis.withClient { try await $0.pipeline([["DEL", RedisArgument("\(server.keyPrefix):{e-2}:run")], ["ZADD", e2Entry, "XX", hourAgo, "e-2"]]) }
          let after = try await client.listWorkflows(ListWorkflowsRequest())
          #expect(!after.runs.map(\.workflowID).contains("e-2"))
          let indexed = try await redis.withClient { try await $0.send(["ZSCORE", RedisArgument(RedisStateStore.runListKey(keyPrefix: server.keyPrefix, workflowID: "e-2")), "e-2"]) }
          #expect(indexed.isNull)
        }
      }
    }
  }

  @Test func cancelStopsARunForGoodAndRefusesWhatMakesNoSense() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      try await LiveServer.with(redis: redis, workflows: researchYAML(record: record.path)) { server in
        try await server.withClient { client in
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "slow", workflowID: "c-1", noWait: true))
          try await eventually { guard record.lines().contains("c-1 one 1") else { throw TestSupportError("not started") } }
          let cancelled = try await client.cancelWorkflow(CancelWorkflowRequest(workflowID: "c-1", reason: "changed my mind")).state
          #expect(cancelled.status == .cancelled)
          #expect(cancelled.error.contains("changed my mind"))
          // Its step was stopped: nothing more is committed, nothing more runs.
          try await Task.sleep(for: .milliseconds(700))
          let later = try await client.getState(GetStateRequest(workflowID: "c-1")).state
          #expect(later.status == .cancelled && later.steps.map(\.status) == [.running, .pending])
          #expect(record.executions(of: "c-1") == ["one": 1])
          // Again: the same answer. Resume: refused. Completed or unknown runs: refused.
          #expect(try await client.cancelWorkflow(CancelWorkflowRequest(workflowID: "c-1")).state.status == .cancelled)
          await Self.expectError(.failedPrecondition, { _ = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "c-1")) }, mentioning: "cancelled")
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "echo", workflowID: "c-2", inputJSON: "1"))
          await Self.expectError(.failedPrecondition, { _ = try await client.cancelWorkflow(CancelWorkflowRequest(workflowID: "c-2")) }, mentioning: "completed")
          await Self.expectError(.notFound, { _ = try await client.cancelWorkflow(CancelWorkflowRequest(workflowID: "nobody")) })
          await Self.expectError(.invalidArgument, { _ = try await client.cancelWorkflow(CancelWorkflowRequest(workflowID: "bad id")) })
          // A failed run can be cancelled too.
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "research", workflowID: "c-3"))
          #expect(try await client.cancelWorkflow(CancelWorkflowRequest(workflowID: "c-3")).state.status == .cancelled)
        }
      }
    }
  }

  @Test func rerunFromAStepKeepsEarlierArtifactsAndRunsTheRestAgain() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      try await LiveServer.with(redis: redis, workflows: researchYAML(record: record.path, failDraft: 0)) { server in
        try await server.withClient { client in
          let done = try await client.startWorkflow(StartWorkflowRequest(workflow: "research", workflowID: "rr-1")).state
          #expect(done.status == .completed)
          let before = try await client.getState(GetStateRequest(workflowID: "rr-1", includeArtifacts: true)).state
          let again = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "rr-1", fromStep: "outline")).state
          #expect(again.status == .completed)
          #expect(again.steps.map(\.attempts) == [1, 1, 2, 2, 2], "new attempts: new idempotency keys")
          #expect(record.executions(of: "rr-1") == ["search": 1, "extract": 1, "outline": 2, "draft": 2, "verify": 2])
          #expect(again.cost.savedByResumeMicros == 200_000, "search and extract were not paid again")
          let after = try await client.getState(GetStateRequest(workflowID: "rr-1", includeArtifacts: true)).state
          let kept = before.artifacts.filter { ["search", "extract"].contains($0.step) }
          #expect(after.artifacts.filter { ["search", "extract"].contains($0.step) } == kept)
          #expect(after.artifacts.first { $0.step == "outline" }.map { String(decoding: $0.data, as: UTF8.self).contains(#""attempt":2"#) } == true)
          // Recorded in the run's events.
          let events = try await redis.withClient {
            try await $0.send(["XRANGE", RedisArgument("\(server.keyPrefix):{rr-1}:events"), "-", "+"])
          }
          let types = (events.array ?? []).compactMap { $0.array?.last?.array?.last?.bytes }
            .compactMap { try? JSONValue(parsing: $0).objectValue }
          let rerun = try #require(types.first { $0["type"] == .string("run_rerun") })
          #expect(rerun["step"] == .string("outline") && rerun["message"]?.stringValue?.contains("discarded") == true)
          await Self.expectError(.invalidArgument, {
            _ = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "rr-1", fromStep: "nope"))
          }, mentioning: "search, extract, outline, draft, verify")
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "slow", workflowID: "rr-2", noWait: true))
          await Self.expectError(.failedPrecondition, {
            _ = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "rr-2", fromStep: "one"))
          }, mentioning: "running")
        }
      }
    }
  }

  @Test func healthReportsRedisAndRunsAndFailsWhenRedisIsDown() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: researchYAML(record: "/dev/null")) { server in
        try await server.withClient { client in
          let healthy = try await client.health()
          #expect(healthy.status == "SERVING" && healthy.redisReachable && healthy.redisLatencyUs > 0)
          #expect(healthy.version == ResumableVersion.current)
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "slow", workflowID: "h-1", noWait: true))
          #expect(try await client.health().runsInFlight == 1)
          await redis.server.kill()
          let sick = try await client.health()
          #expect(sick.status == "NOT_SERVING" && !sick.redisReachable && !sick.redisError.isEmpty)
          try await redis.server.start()
        }
      }
    }
  }

  @Test func endedRunsAreKeptForTheirOutcomesRetention() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(
        redis: redis, workflows: researchYAML(record: "/dev/null"),
        configure: {
          $0.engine.retentionCompleted = .seconds(60)
          $0.engine.retentionFailed = .seconds(7200)
          $0.engine.retentionCancelled = .seconds(120)
        }
      ) { server in
        try await server.withClient { client in
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "echo", workflowID: "t-ok", inputJSON: "1"))
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "research", workflowID: "t-failed"))
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "slow", workflowID: "t-cancel", noWait: true))
          _ = try await client.cancelWorkflow(CancelWorkflowRequest(workflowID: "t-cancel"))
          func ttl(_ id: String) async throws -> Int64 {
            try await redis.withClient { try await $0.send(["PTTL", RedisArgument("\(server.keyPrefix):{\(id)}:run")]).int ?? -1 }
          }
          let completed = try await ttl("t-ok")
          let failed = try await ttl("t-failed")
          let cancelled = try await ttl("t-cancel")
          // Each retention, plus its slack (1/100, a minute at most: `Scripts.prelude`'s `touch`).
          #expect(completed > 50_000 && completed <= 60_600)
          #expect(failed > 7_000_000 && failed <= 7_260_000)
          #expect(cancelled > 110_000 && cancelled <= 121_200)
          #expect(try await client.getState(GetStateRequest(workflowID: "t-ok")).state.expiresAtMs > 0)
        }
      }
    }
  }
}
