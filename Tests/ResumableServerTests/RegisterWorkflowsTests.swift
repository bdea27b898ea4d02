import Foundation
import ResumableClient
import ResumableCore
import ResumableTestSupport
import ResumableWire
import Testing

/// RegisterWorkflows: workflows defined in code, stored in Redis, runnable by
/// every server that shares it; real servers, a real Redis.
@Suite("RegisterWorkflows")
struct RegisterWorkflowsTests {
  static let fileYAML = """
    workflows:
      - name: from_file
        steps:
          - {name: only, plugin: echo, inputs: [input]}
    """

  /// A workflow of `steps` simulate steps, as the JSON a program sends.
  static func coded(_ name: String, steps: Int, failFirst: Bool = false, record: String = "/dev/null") -> String {
    let list = (1...steps).map { index in
      let fail = failFirst && index == steps ? #", "fail_attempts": 1"# : ""
      return #"{"name": "s\#(index)", "plugin": "simulate", "retry": {"max_attempts": 1}, "#
        + #""config": {"cost_usd": 0.01, "record": "\#(record)"\#(fail)}}"#
    }
    return #"{"workflows": [{"name": "\#(name)", "steps": [\#(list.joined(separator: ", "))]}]}"#
  }

  static func register(_ client: ResumableClient, _ json: String) async throws -> [RegisteredWorkflow] {
    try await client.registerWorkflows(RegisterWorkflowsRequest(definitionsJSON: json)).workflows
  }

  @Test func aRegisteredWorkflowRunsOnEveryServerAndARunKeepsItsVersion() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      let prefix = uniqueKeyPrefix()
      try await LiveServer.with(redis: redis, workflows: Self.fileYAML, keyPrefix: prefix) { serverA in
        try await LiveServer.with(redis: redis, workflows: Self.fileYAML, keyPrefix: prefix) { serverB in
          try await serverA.withClient { a in
            try await serverB.withClient { b in
              let first = try await Self.register(a, Self.coded("agent", steps: 2, failFirst: true, record: record.path))
              #expect(first == [RegisteredWorkflow(name: "agent", version: 1, changed: true)])
              let again = try await Self.register(b, Self.coded("agent", steps: 2, failFirst: true, record: record.path))
              #expect(again == [RegisteredWorkflow(name: "agent", version: 1, changed: false)])

              // Registered through A, started through B: it fails at its last step.
              let failed = try await b.startWorkflow(StartWorkflowRequest(workflow: "agent", workflowID: "reg-old")).state
              #expect(failed.status == .failed)
              #expect(failed.currentStep == "s2")

              // A new version for new runs.
              let second = try await Self.register(a, Self.coded("agent", steps: 3, record: record.path))
              #expect(second == [RegisteredWorkflow(name: "agent", version: 2, changed: true)])
              let fresh = try await a.startWorkflow(StartWorkflowRequest(workflow: "agent", workflowID: "reg-new")).state
              #expect(fresh.status == .completed)
              #expect(fresh.steps.map(\.name) == ["s1", "s2", "s3"])

              // The old run resumes on its own snapshot: two steps, s1 not run again.
              let resumed = try await a.resumeWorkflow(ResumeWorkflowRequest(workflowID: "reg-old")).state
              #expect(resumed.status == .completed)
              #expect(resumed.steps.map(\.name) == ["s1", "s2"])
              #expect(record.executions(of: "reg-old") == ["s1": 1, "s2": 2])
            }
          }
        }
      }
    }
  }

  @Test func badDefinitionsAreRefusedAndNothingOfTheCallIsRegistered() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.fileYAML) { server in
        try await server.withClient { client in
          func refusal(_ json: String) async -> ResumableClientError? {
            await clientError { _ = try await Self.register(client, json) }
          }
          let garbage = await refusal("{not json")
          #expect(garbage?.code == .invalidArgument)
          #expect(garbage?.message.contains("not valid JSON") == true)

          // One valid workflow and one whose second step names an unknown plugin.
          let batch = #"{"workflows": [{"name": "good", "steps": [{"name": "a", "plugin": "echo"}]}, "#
            + #"{"name": "bad", "steps": [{"name": "a", "plugin": "echo"}, {"name": "b", "plugin": "nope"}]}]}"#
          let invalid = await refusal(batch)
          #expect(invalid?.code == .invalidArgument)
          #expect(invalid?.message.contains("workflow 'bad'") == true)
          #expect(invalid?.message.contains("step 'b'") == true)
          #expect(invalid?.message.contains("nope") == true)
          let notRegistered = await clientError {
            _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "good"))
          }
          #expect(notRegistered?.code == .notFound)
          #expect(notRegistered?.message.contains("none is registered") == true)

          let plugins = await refusal(#"{"workflows": [], "plugins": {"echo": {}}}"#)
          #expect(plugins?.code == .invalidArgument)
          #expect(plugins?.message.contains("'plugins'") == true)

          // The file's own workflow: the same content is fine, other content is not.
          let same = #"{"workflows": [{"name": "from_file", "steps": [{"name": "only", "plugin": "echo", "inputs": ["input"]}]}]}"#
          let registeredSame = try await Self.register(client, same)
          #expect(registeredSame.first?.changed == true)
          let other = await refusal(#"{"workflows": [{"name": "from_file", "steps": [{"name": "x", "plugin": "echo"}]}]}"#)
          #expect(other?.code == .alreadyExists)
          #expect(other?.message.contains("from_file") == true)
        }
      }
    }
  }

  @Test func aServerWithoutARegisteredWorkflowsPluginRefusesToStartIt() async throws {
    try await withTestRedis { redis in
      let prefix = uniqueKeyPrefix()
      var echoOnly = PluginRegistry()
      try echoOnly.register(EchoPlugin(), as: EchoPlugin.name)
      let plugins = echoOnly
      try await LiveServer.with(redis: redis, workflows: Self.fileYAML, keyPrefix: prefix) { full in
        try await LiveServer.with(
          redis: redis, workflows: "workflows: []", keyPrefix: prefix, configure: { $0.plugins = plugins }
        ) { lacking in
          try await full.withClient { client in _ = try await Self.register(client, Self.coded("needs_simulate", steps: 1)) }
          try await lacking.withClient { client in
            let error = await clientError {
              _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "needs_simulate"))
            }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.message.contains("needs plugin 'simulate'") == true)
          }
        }
      }
    }
  }

  @Test func definitionsOverTheFrameLimitAreResourceExhausted() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(
        redis: redis, workflows: Self.fileYAML, configure: { $0.transport.maximumFrameBytes = 64 * 1024 }
      ) { server in
        try await server.withClient { client in
          let error = await clientError { _ = try await Self.register(client, Self.coded("huge", steps: 1_500)) }
          #expect(error?.code == .resourceExhausted)
        }
        try await server.withClient { client in
          // Nothing was registered, and the server goes on serving.
          let error = await clientError { _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "huge")) }
          #expect(error?.code == .notFound)
        }
      }
    }
  }
}
