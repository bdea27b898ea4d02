import Foundation
@testable import ResumableCore
import ResumableRedis
@testable import ResumableStore
import ResumableTestSupport
import Testing

/// Faults a review found in the engine, each reproduced with real Redis:
/// lost replies, re-runs past the failure, recovery at capacity, definitions
/// built in Swift.
@Suite("Engine: faults")
struct EngineFaultTests {
  static let yaml = """
    workflows:
      - name: flaky
        steps:
          - {name: a, plugin: simulate, config: {cost_usd: 0.25, fail_attempts: 1}, retry: {max_attempts: 3, initial_backoff_ms: 1, max_backoff_ms: 1}}
          - {name: b, plugin: simulate, config: {cost_usd: 0.5}}
      - name: once
        steps:
          - {name: a, plugin: simulate, config: {cost_usd: 0.1}}
          - {name: b, plugin: simulate, config: {fail_attempts: 1}, retry: {max_attempts: 1}}
      - name: three
        steps:
          - {name: a, plugin: simulate, config: {cost_usd: 0.1}}
          - {name: b, plugin: simulate, config: {fail_permanently: true}}
          - {name: c, plugin: simulate, inputs: [b]}
      - name: slow
        steps:
          - {name: wait, plugin: sleeper}
    """

  /// The `fail` and `begin` scripts' replies are lost once each (the
  /// connection drops just after Redis ran them): the runner's retries are
  /// replayed, so the run completes with every attempt charged once.
  @Test(arguments: ["fail", "commit"])
  func aWriteWhoseReplyIsLostIsNotAppliedTwice(script: String) async throws {
    let sha = script == "fail" ? Scripts.fail.sha1 : Scripts.commit.sha1
    try await Self.withTappedHarness { tap, harness in
      // Load the scripts first, so the armed command is an EVALSHA.
      _ = try await harness.run("three", id: "warmup")
      tap.dropConnection { $0.name == "EVALSHA" && $0.text(1) == sha }
      let record = try await harness.run("flaky", id: "lost-\(script)")
      #expect(tap.droppedConnections == 1)
      #expect(record.status == .completed, "\(record.error ?? "")")
      // Attempt 1 of a failed (0.25), attempt 2 committed (0.25), b (0.5): once each.
      #expect(record.ledger.spentMicros == 1_000_000)
      #expect(record.steps.map(\.attempts) == [2, 1])
      #expect(record.resumes == 0)
      let events = try await Self.eventTypes(harness, record.workflowID)
      #expect(events.filter { $0 == "attempt_failed" }.count == 1, "\(events)")
      #expect(events.filter { $0 == "step_committed" }.count == 2, "\(events)")
    }
  }

  /// The one-step resume's reply is lost once (the connection drops just
  /// after Redis ran the `resume` script): the engine's retry is replayed, so
  /// the resume is counted once, its lease is the engine's, and the run completes.
  @Test func aResumeWhoseReplyIsLostIsCountedOnce() async throws {
    try await Self.withTappedHarness { tap, harness in
      let failed = try await harness.run("once", id: "lost-resume")
      #expect(failed.status == .failed)
      // Load the script first, so the armed command is an EVALSHA.
      _ = try? await harness.engine.resume(workflowID: "ghost", wait: true)
      tap.dropConnection { $0.name == "EVALSHA" && $0.text(1) == Scripts.resume.sha1 }
      let record = try await harness.engine.resume(workflowID: "lost-resume", wait: true)
      #expect(tap.droppedConnections == 1)
      #expect(record.status == .completed, "\(record.error ?? "")")
      #expect(record.resumes == 1 && record.steps.map(\.attempts) == [1, 2])
      #expect(record.ledger.savedByResumeMicros == 100_000)
      let events = try await Self.eventTypes(harness, record.workflowID)
      #expect(events.filter { $0 == "run_resumed" }.count == 1, "\(events)")
    }
  }

  /// An engine whose Redis connection passes through a `RedisWireTap`, which
  /// a test arms to drop the connection after a command of its choice.
  static func withTappedHarness(_ body: (RedisWireTap, EngineHarness) async throws -> Void) async throws {
    try await withTestRedis { redis in
      try await withTemporaryDirectory { directory in
        let tap = try await RedisWireTap.start(
          socketPath: directory.appending("tap.sock"), forwardingTo: try #require(redis.address.unixSocketPath))
        defer { Task { await tap.close() } }
        try await EngineHarness.with(redis: redis, yaml: Self.yaml, plugins: ["sleeper": SleeperPlugin()], address: tap.address) { harness in
          try await body(tap, harness)
        }
      }
    }
  }

  static func eventTypes(_ harness: EngineHarness, _ id: String) async throws -> [String] {
    let reply = try await harness.client.send(["XRANGE", RedisArgument("\(harness.prefix):{\(id)}:events"), "-", "+"])
    return (reply.array ?? []).compactMap { entry -> String? in
      guard let json = entry.array?.last?.array?.last?.bytes, let value = try? JSONValue(parsing: json),
        case .object(let members) = value, case .string(let type)? = members["type"]
      else { return nil }
      return type
    }
  }

  @Test func aReRunPastTheFailedStepIsRefusedAndWritesNothing() async throws {
    try await withTestRedis { redis in
      try await EngineHarness.with(redis: redis, yaml: Self.yaml, plugins: ["sleeper": SleeperPlugin()]) { harness in
        let failed = try await harness.run("three", id: "skip")
        #expect(failed.status == .failed && failed.cursor == 1)
        let before = try await dumpRun(harness.client, prefix: harness.prefix, id: "skip")
        let error = await #expect(throws: EngineError.self) {
          _ = try await harness.engine.resume(workflowID: "skip", wait: true, fromStep: "c")
        }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message.contains("re-run from one of: a, b") == true, "\(error?.message ?? "")")
        #expect(try await dumpRun(harness.client, prefix: harness.prefix, id: "skip") == before)
        let after = try await harness.engine.state(workflowID: "skip", includeArtifacts: false)
        #expect(after.fence == failed.fence && after.resumes == 0 && after.status == .failed)
        // At or before the failed step is fine.
        let rerun = try await harness.engine.resume(workflowID: "skip", wait: true, fromStep: "b")
        #expect(rerun.status == .failed && rerun.resumes == 1)
      }
    }
  }

  @Test func aServerAtCapacityClaimsNothingInRecovery() async throws {
    let sleeper = SleeperPlugin()
    try await withTestRedis { redis in
      try await EngineHarness.with(
        redis: redis, yaml: Self.yaml, plugins: ["sleeper": sleeper],
        configure: {
          $0.maximumActiveRuns = 1
          $0.recoveryInterval = nil  // passes are run by hand below
          $0.leaseDuration = .seconds(2)
        }
      ) { harness in
        // The one slot is taken by a long step.
        _ = try await harness.engine.start(workflow: "slow", workflowID: "busy", input: [], wait: false)
        // An orphan: RUNNING, its lease lapsed, due in the recovery index.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        guard
          case .created(let fence) = try await harness.store.create(
            NewRun(
              workflowID: "orphan", definition: try #require(harness.engine.workflows["three"]), input: Array("null".utf8),
              firstStep: StepProgress().beginningAttempt(at: now), timing: WriteTiming(nowMs: now, ttlMs: 60_000, leaseMs: 1)))
        else {
          Issue.record("the orphan was not created")
          return
        }
        try await waitUntilGone("\(harness.prefix):{orphan}:lease", in: harness.client)
        for _ in 0..<3 { #expect(try await harness.engine.recoverDueRuns() == 0) }
        let orphan = try await harness.engine.state(workflowID: "orphan", includeArtifacts: false)
        #expect(orphan.fence == fence && orphan.resumes == 0 && orphan.steps[0].attempts == 1)
        // With room again (the long run cancelled), the next pass takes it.
        _ = try await harness.engine.cancel(workflowID: "busy", reason: "make room")
        let taken = try await eventually(timeout: .seconds(10)) {
          guard try await harness.engine.recoverDueRuns() == 1 else { throw EngineHarness.NotYet(record: "not yet") }
          return true
        }
        #expect(taken)
      }
    }
  }

  /// A waiting caller is answered with the runner's copy of the run, not a
  /// read: that copy must be exactly what is stored, field for field.
  @Test func theAnswerOfACompletedRunIsTheRunAsStored() async throws {
    let yaml = """
      workflows:
        - name: rich
          history_max_messages: 2
          steps:
            - {name: a, plugin: simulate, config: {cost_usd: 0.25, input_tokens: 7, output_tokens: 3, fail_attempts: 1, append_history: [{role: assistant, content: one}, {role: assistant, content: two}]}, retry: {max_attempts: 3, initial_backoff_ms: 1, max_backoff_ms: 1}}
            - {name: b, plugin: simulate, inputs: [a], config: {cost_usd: 0.5, input_tokens: 11, append_history: [{role: user, content: three}]}}
      """
    try await withTestRedis { redis in
      try await EngineHarness.with(redis: redis, yaml: yaml) { harness in
        let answered = try await harness.run("rich", id: "rich-1")
        #expect(answered.status == .completed)
        let stored = try await harness.engine.state(workflowID: "rich-1", includeArtifacts: false)
        #expect(answered == stored)
        #expect(answered.ledger.inputTokens == 25 && answered.historyLength == 2)
        // A re-run (a takeover of the completed run) answers as stored too.
        let rerun = try await harness.engine.resume(workflowID: "rich-1", wait: true, fromStep: "b")
        #expect(rerun == (try await harness.engine.state(workflowID: "rich-1", includeArtifacts: false)))
      }
    }
  }

  /// A run that fails answers its waiter with the runner's copy too.
  @Test func theAnswerOfAFailedRunIsTheRunAsStored() async throws {
    let yaml = """
      workflows:
        - name: doomed
          steps:
            - {name: a, plugin: simulate, config: {cost_usd: 0.25, input_tokens: 7}}
            - {name: b, plugin: simulate, inputs: [a], config: {cost_usd: 0.5, fail_attempts: 9}, retry: {max_attempts: 2, initial_backoff_ms: 1, max_backoff_ms: 1}}
      """
    try await withTestRedis { redis in
      try await EngineHarness.with(redis: redis, yaml: yaml) { harness in
        let answered = try await harness.run("doomed", id: "doomed-1")
        #expect(answered.status == .failed && answered.steps[1].attempts == 2)
        #expect(answered == (try await harness.engine.state(workflowID: "doomed-1", includeArtifacts: false)))
      }
    }
  }

  @Test func aDefinitionBuiltInSwiftIsValidatedAsAFilesIs() throws {
    let registry = PluginRegistry.builtIn()
    let empty = WorkflowDefinition(name: "empty", steps: [])
    let error = #expect(throws: DefinitionError.self) { try [empty].validate(registry: registry, file: "code") }
    #expect(error?.description == "code: workflow 'empty': a workflow needs a non-empty 'steps' list")
    let unknown = WorkflowDefinition(name: "w", steps: [StepDefinition(name: "a", plugin: "nope")])
    #expect(throws: DefinitionError.self) { try [unknown].validate(registry: registry, file: "code") }
    let forward = WorkflowDefinition(
      name: "w", steps: [StepDefinition(name: "a", plugin: "echo", inputs: ["b"]), StepDefinition(name: "b", plugin: "echo")])
    #expect(throws: DefinitionError.self) { try [forward].validate(registry: registry, file: "code") }
    let fine = WorkflowDefinition(name: "w", steps: [StepDefinition(name: "a", plugin: "echo", inputs: ["input"])])
    try [fine].validate(registry: registry, file: "code")
    #expect(throws: DefinitionError.self) { try [fine, fine].validate(registry: registry, file: "code") }
  }

  @Test func anEngineGivenAnEmptyWorkflowRefusesToStartItInsteadOfTrapping() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let engine = WorkflowEngine(
          store: RedisStateStore(client: client, keyPrefix: uniqueKeyPrefix()), registry: .builtIn(),
          workflows: [WorkflowDefinition(name: "empty", steps: [])], logger: .init(label: "test"))
        let error = await #expect(throws: EngineError.self) {
          _ = try await engine.start(workflow: "empty", workflowID: "e", input: [], wait: false)
        }
        #expect(error?.code == .failedPrecondition)
      }
    }
  }
}
