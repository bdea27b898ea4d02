import ResumableCore
import Testing

@Suite("Plugin registry")
struct PluginRegistryTests {
  struct Constant: StepPlugin {
    func execute(_ context: StepContext) async throws -> StepOutput { StepOutput(artifact: Array("1".utf8)) }
  }

  @Test func builtInsAreRegistered() {
    #expect(PluginRegistry.builtIn().names == ["echo", "simulate", "worker"])
  }

  @Test func duplicateNameIsRefusedAtRegistration() throws {
    var registry = PluginRegistry.builtIn()
    try registry.register(Constant(), as: "constant")
    #expect(throws: PluginRegistrationError.self) { try registry.register(Constant(), as: "constant") }
    #expect(throws: PluginRegistrationError.self) { try registry.register(Constant(), as: "echo") }
    #expect(throws: PluginRegistrationError.self) { try registry.register(Constant(), as: "") }
    #expect(registry.names == ["echo", "simulate", "worker", "constant"])
  }

  @Test func registryIsAValue() throws {
    let frozen = PluginRegistry.builtIn()
    var copy = frozen
    try copy.register(Constant(), as: "constant")
    #expect(frozen.plugin(named: "constant") == nil)
    #expect(copy.plugin(named: "constant") != nil)
  }
}

@Suite("Built-in plugins")
struct BuiltInPluginTests {
  func context(attempt: Int = 1, config: JSONValue = .object([:]), inputs: [String: [UInt8]] = [:]) -> StepContext {
    StepContext(
      workflowID: "wf-1", workflowName: "w", stepName: "s", stepIndex: 0, attempt: attempt, config: config,
      inputs: inputs, deadline: nil)
  }

  @Test func echoReturnsItsDeclaredInputs() async throws {
    let output = try await EchoPlugin().execute(
      context(inputs: ["input": Array(#"{"q":"x"}"#.utf8), "search": Array("[1,2]".utf8)]))
    #expect(try JSONValue(parsing: output.artifact) == .object(["input": .object(["q": .string("x")]), "search": .array([.number(1), .number(2)])]))
  }

  @Test func simulateReportsUsageAndSizesItsArtifact() async throws {
    let config: JSONValue = .object([
      "cost_usd": .number(0.1), "input_tokens": .number(1200), "output_tokens": .number(300),
      "artifact_bytes": .number(2048),
    ])
    let output = try await SimulatePlugin().execute(context(config: config))
    #expect(output.usage == StepUsage(inputTokens: 1200, outputTokens: 300, costMicros: 100_000))
    #expect(output.artifact.count == 2048)
    _ = try JSONValue(parsing: output.artifact)
  }

  /// Simulate writes its artifact member by member: the bytes are those of
  /// the same object as a `JSONValue`, keys sorted.
  @Test(arguments: [0, 10, 300])
  func simulatesArtifactIsTheSerializedObject(artifactBytes: Int) async throws {
    var step = context(
      attempt: 3, config: .object(["artifact_bytes": .number(Double(artifactBytes))]),
      inputs: ["input": Array("1".utf8), "a \"quoted\"/name": Array("2".utf8)])
    for history in [[], [HistoryEntry(role: "user", content: "line\n\"two\" é")]] {
      step.history = history
      var members: [String: JSONValue] = [
        "step": .string("s"), "attempt": .number(3), "inputs": .array([.string("a \"quoted\"/name"), .string("input")]),
        "padding": .string(""),
      ]
      if !history.isEmpty { members["history"] = .array(history.map { .string($0.content) }) }
      let unpadded = JSONValue.object(members).serialized()
      if artifactBytes > unpadded.count {
        members["padding"] = .string(String(repeating: "x", count: artifactBytes - unpadded.count))
      }
      let output = try await SimulatePlugin().execute(step)
      #expect(output.artifact == JSONValue.object(members).serialized())
    }
  }

  @Test func simulateFailsTheFirstAttemptsRetryably() async throws {
    let config: JSONValue = .object(["fail_attempts": .number(2), "cost_usd": .number(0.05)])
    for attempt in 1...2 {
      do {
        _ = try await SimulatePlugin().execute(context(attempt: attempt, config: config))
        Issue.record("attempt \(attempt) succeeded")
      } catch let failure as StepFailure {
        #expect(failure.retryable)
        #expect(failure.usage.costMicros == 50_000)
      }
    }
    _ = try await SimulatePlugin().execute(context(attempt: 3, config: config))
  }

  @Test func simulateFailsPermanently() async throws {
    await #expect(throws: StepFailure.self) {
      _ = try await SimulatePlugin().execute(self.context(config: .object(["fail_permanently": .bool(true)])))
    }
    do {
      _ = try await SimulatePlugin().execute(context(config: .object(["fail_permanently": .bool(true)])))
    } catch let failure as StepFailure {
      #expect(!failure.retryable)
    }
  }

  @Test func simulateRecordsEachExecution() async throws {
    let path = "/tmp/rsm-record-\(getpid())-\(Int.random(in: 0..<1_000_000))"
    defer { unlink(path) }
    let config: JSONValue = .object(["record": .string(path)])
    _ = try await SimulatePlugin().execute(context(attempt: 1, config: config))
    _ = try await SimulatePlugin().execute(context(attempt: 2, config: config))
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text == "wf-1 s 1\nwf-1 s 2\n")
  }

  @Test func idempotencyKeyNamesRunStepAndAttempt() {
    #expect(context(attempt: 3).idempotencyKey == "wf-1/s/3")
  }
}

import Foundation
