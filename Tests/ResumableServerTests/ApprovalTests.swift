import Foundation
import ResumableClient
import ResumableCore
import ResumableRedis
import ResumableServer
import ResumableTestSupport
import ResumableWire
import Testing

/// Human approval over the real socket: before a step, after a low-confidence step,
/// one-time tokens, racing answers, rejection, and the approval deadline.
@Suite("Approval")
struct ApprovalTests {
  /// Runs `body` with a server for `approvalYAML(record:timeoutMs:)`, its Redis and its record file.
  static func withServer(
    timeoutMs: Int = 3_600_000, configure: @escaping @Sendable (inout SidecarConfiguration) -> Void = { _ in },
    _ body: (LiveServer, RecordFile, TestRedis) async throws -> Void
  ) async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      try await LiveServer.with(redis: redis, workflows: approvalYAML(record: record.path, timeoutMs: timeoutMs), configure: configure) {
        try await body($0, record, redis)
      }
    }
  }

  @Test func approvalBeforeAStepAndOneTimeTokens() async throws {
    try await Self.withServer { server, record, _ in
      try await server.withClient { client in
        let waiting = try await client.startWorkflow(StartWorkflowRequest(workflow: "gated", workflowID: "g-1")).state
        #expect(waiting.status == .awaitingApproval)
        #expect(waiting.approval.step == "publish" && waiting.approval.kind == "before" && !waiting.approval.token.isEmpty)
        #expect(record.executions(of: "g-1") == ["research": 1], "publish waits for a person")
        let wrong = await clientError {
          _ = try await client.approveStep(ApproveStepRequest(workflowID: "g-1", token: "not-the-token"))
        }
        #expect(wrong?.code == .failedPrecondition)
        let done = try await client.approveStep(ApproveStepRequest(workflowID: "g-1", token: waiting.approval.token, note: "ok")).state
        #expect(done.status == .completed)
        #expect(record.executions(of: "g-1") == ["research": 1, "publish": 1])
        #expect(done.cost.savedByResumeMicros == 0, "an approval is not a resume")
        let again = await clientError {
          _ = try await client.approveStep(ApproveStepRequest(workflowID: "g-1", token: waiting.approval.token))
        }
        #expect(again?.code == .failedPrecondition && again?.message.contains("once") == true)
        let resume = await clientError { _ = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "nobody")) }
        #expect(resume?.code == .notFound)
      }
    }
  }

  @Test func racingApprovalsHaveExactlyOneWinner() async throws {
    try await Self.withServer { server, record, _ in
      let token = try await server.withClient { client in
        try await client.startWorkflow(StartWorkflowRequest(workflow: "gated", workflowID: "race")).state.approval.token
      }
      let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
        for index in 0..<12 {
          group.addTask {
            try await server.withClient { client in
              do {
                _ = try await client.approveStep(
                  ApproveStepRequest(workflowID: "race", token: token, reject: index % 3 == 0, noWait: true))
                return "won"
              } catch let error as ResumableClientError where error.code == .failedPrecondition {
                return "refused"
              }
            }
          }
        }
        return try await group.reduce(into: [String]()) { $0.append($1) }
      }
      #expect(outcomes.filter { $0 == "won" }.count == 1, "\(outcomes)")
      #expect(outcomes.filter { $0 == "refused" }.count == 11)
      try await server.withClient { client in
        try await eventually {
          let state = try await client.getState(GetStateRequest(workflowID: "race")).state
          guard state.status == .completed || state.status == .failed else { throw TestSupportError("\(state.status)") }
        }
      }
      #expect((record.executions(of: "race")["publish"] ?? 0) <= 1)
    }
  }

  @Test func lowConfidenceOutputWaitsAndIsKeptOrRejected() async throws {
    try await Self.withServer { server, record, redis in
      try await server.withClient { client in
        let waiting = try await client.startWorkflow(StartWorkflowRequest(workflow: "unsure", workflowID: "u-1")).state
        #expect(waiting.status == .awaitingApproval)
        #expect(waiting.approval.kind == "low_confidence" && waiting.approval.confidence == 0.55 && waiting.approval.threshold == 0.7)
        #expect(waiting.cost.spentMicros == 200_000, "the attempt's cost is spent")
        let kept = try await client.approveStep(ApproveStepRequest(workflowID: "u-1", token: waiting.approval.token)).state
        #expect(kept.status == .completed)
        // The held output was committed, not produced again.
        #expect(record.executions(of: "u-1") == ["draft": 1, "send": 1])
        #expect(kept.cost.spentMicros == 200_000)
        let artifacts = try await client.getState(GetStateRequest(workflowID: "u-1", includeArtifacts: true)).state.artifacts
        #expect(artifacts.map(\.step) == ["draft", "send"])

        let second = try await client.startWorkflow(StartWorkflowRequest(workflow: "unsure", workflowID: "u-2")).state
        let rejected = try await client.approveStep(
          ApproveStepRequest(workflowID: "u-2", token: second.approval.token, reject: true, note: "too vague")).state
        #expect(rejected.status == .failed && rejected.error.contains("too vague") && rejected.error.contains("draft"))
        let events = try await redis.withClient {
          try await $0.send(["XRANGE", RedisArgument("\(server.keyPrefix):{u-2}:events"), "-", "+"])
        }
        let decoded = (events.array ?? []).compactMap { $0.array?.last?.array?.last?.bytes }
          .compactMap { try? JSONValue(parsing: $0).objectValue }
        #expect(decoded.contains { $0["type"] == .string("step_rejected") && $0["step"] == .string("draft") })
        // Still resumable: the step runs again, and asks again.
        let retried = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "u-2")).state
        #expect(retried.status == .awaitingApproval && retried.approval.token != second.approval.token)
        #expect(record.executions(of: "u-2") == ["draft": 2])
      }
    }
  }

  @Test func anUnansweredApprovalFailsTheRunAtItsDeadlineAndTheRunOutlivesTheWait() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      let yaml = approvalYAML(record: record.path, timeoutMs: 400)
      try await LiveServer.with(
        redis: redis, workflows: yaml,
        configure: {
          $0.engine.recoveryInterval = .milliseconds(50)
          $0.engine.ttl = .seconds(60)
        }
      ) { server in
        try await server.withClient { client in
          let waiting = try await client.startWorkflow(StartWorkflowRequest(workflow: "gated", workflowID: "late")).state
          #expect(waiting.status == .awaitingApproval)
          let expired = try await eventually(timeout: .seconds(10)) {
            let state = try await client.getState(GetStateRequest(workflowID: "late")).state
            guard state.status == .failed else { throw TestSupportError("still \(state.status)") }
            return state
          }
          #expect(expired.error.contains("approval") && expired.error.contains("publish"), "\(expired.error)")
          let late = await clientError {
            _ = try await client.approveStep(ApproveStepRequest(workflowID: "late", token: waiting.approval.token))
          }
          #expect(late?.code == .failedPrecondition)
          #expect(record.executions(of: "late") == ["research": 1])
        }
      }
      // A wait longer than the TTL: the run's keys live at least until its deadline.
      let long = approvalYAML(record: record.path, timeoutMs: 3 * 86_400_000)
      try await LiveServer.with(redis: redis, workflows: long, configure: { $0.engine.ttl = .seconds(60) }) { server in
        try await server.withClient { client in
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "gated", workflowID: "patient"))
          let ttl = try await redis.withClient {
            try await $0.send(["PTTL", RedisArgument("\(server.keyPrefix):{patient}:steps")]).int ?? 0
          }
          #expect(ttl > 3 * 86_400_000, "\(ttl)")
        }
      }
    }
  }
}
