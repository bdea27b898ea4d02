import Foundation
import ResumableCLI
import ResumableClient
import ResumableCore
import ResumableRedis
import ResumableStore
import ResumableTestSupport
import ResumableWire
import Testing

/// What happens around a step, seen through the RPC protocol: callers that
/// give up or go away, wait reasons, history, what steps were given, and
/// stored runs from another schema version.
@Suite("Agent steps over RPC")
struct AgentStepRPCTests {
  @Test func aClientThatDisconnectsDoesNotCancelItsRun() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      try await LiveServer.with(redis: redis, workflows: researchYAML(record: record.path)) { server in
        let leaving = try await ResumableClient.connect(socketPath: server.socketPath)
        let call = Task {
          try await leaving.startWorkflow(StartWorkflowRequest(workflow: "slow", workflowID: "gone-1"))
        }
        // Wait until the run has begun, then drop the connection mid-run.
        try await eventually {
          guard record.executions(of: "gone-1")["one"] == 1 else { throw CancellationError() }
        }
        await leaving.close()
        _ = await call.result
        try await server.withClient { client in
          let state = try await eventually(timeout: .seconds(10)) {
            let state = try await client.getState(GetStateRequest(workflowID: "gone-1")).state
            guard state.status == .completed else { throw CancellationError() }
            return state
          }
          #expect(state.steps.map(\.attempts) == [1, 1])
        }
        #expect(record.executions(of: "gone-1") == ["one": 1, "two": 1])
      }
    }
  }

  @Test func waitsHistoryAndWhatEachStepWasGivenAreInTheState() async throws {
    let yaml = """
      workflows:
        - name: chat
          steps:
            - name: ask
              plugin: simulate
              inputs: [input]
              config: {rate_limit_attempts: 1, retry_after_ms: 2000, append_history: [{role: user, content: hi}, {role: assistant, content: hello}]}
              retry: {max_attempts: 2, initial_backoff_ms: 1, max_backoff_ms: 1}
            - {name: answer, plugin: simulate, inputs: [ask], history: {last: 1}}
      """
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: yaml) { server in
        try await server.withClient { client in
          _ = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "chat", workflowID: "chat-1", inputJSON: #"{"q":1}"#, noWait: true))
          let waiting = try await eventually(timeout: .seconds(10)) {
            let state = try await client.getState(GetStateRequest(workflowID: "chat-1")).state
            guard state.steps[0].status == .retrying else { throw CancellationError() }
            return state
          }
          #expect(waiting.steps[0].lastErrorClass == .rateLimited)
          #expect(waiting.steps[0].waitReason.contains("rate limited"))
          #expect(waiting.steps[0].nextAttemptAtMs >= waiting.steps[0].finishedAtMs + 2000)
          #expect(RunStateRendering.text(waiting, includeArtifacts: false).contains("Waiting: ask: rate limited"))

          let done = try await eventually(timeout: .seconds(10)) {
            let state = try await client.getState(GetStateRequest(workflowID: "chat-1", includeHistory: true)).state
            guard state.status == .completed else { throw CancellationError() }
            return state
          }
          #expect(done.historyMessages == 2)
          #expect(done.history == [HistoryMessage(role: "user", content: "hi"), HistoryMessage(role: "assistant", content: "hello")])
          #expect(done.steps[0].inputsGiven == [GivenInput(name: "input", bytes: 7)])
          #expect(done.steps[1].inputsGiven == [GivenInput(name: "ask", bytes: done.steps[0].artifactBytes)])
          #expect(done.steps[1].historyMessagesGiven == 1)
          #expect(done.steps[1].historyBytesGiven == UInt64("assistanthello".utf8.count))
          #expect(done.steps[0].waitReason.isEmpty && done.steps[0].nextAttemptAtMs == 0)
          let json = RunStateRendering.json(done, includeArtifacts: false)
          #expect(json.contains(#""inputs_given""#) && json.contains("RATE_LIMITED"), "\(json)")
          // Without asking, the history does not travel.
          let light = try await client.getState(GetStateRequest(workflowID: "chat-1")).state
          #expect(light.history.isEmpty && light.historyMessages == 2)
        }
      }
    }
  }

  @Test func aRunStoredByANewerSchemaIsRefusedWithFailedPrecondition() async throws {
    try await withTestRedis { redis in
      let prefix = uniqueKeyPrefix()
      let yaml = researchYAML(record: "/dev/null")
      let research = try #require(try LiveServer.parse(yaml).first { $0.name == "research" })
      try await OrphanedRunTests.orphan(redis: redis, prefix: prefix, id: "future-1", workflow: research, leaseMs: 1)
      let before = try await redis.withClient { client in
        _ = try await client.send(["HSET", RedisArgument("\(prefix):{future-1}:run"), "v", "7"])
        return try await dumpRun(client, prefix: prefix, id: "future-1")
      }
      try await LiveServer.with(redis: redis, workflows: yaml, keyPrefix: prefix) { server in
        try await server.withClient { client in
          for call in ["GetState", "ResumeWorkflow"] {
            let error = await #expect(throws: ResumableClientError.self, "\(call)") {
              if call == "GetState" {
                _ = try await client.getState(GetStateRequest(workflowID: "future-1"))
              } else {
                _ = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "future-1"))
              }
            }
            #expect(error?.code == .failedPrecondition, "\(call)")
            #expect(error?.message.contains("schema version 7") == true, "\(error?.message ?? "")")
          }
        }
      }
      // Nothing was half-read or written back.
      let after = try await redis.withClient { client in
        try await dumpRun(client, prefix: prefix, id: "future-1")
      }
      #expect(after == before)
    }
  }
}
