import Foundation
import ResumableCore
import ResumableTestSupport
import Testing

/// What happens around a step, on the real engine with the in-memory store
/// and a manual clock (the fast tier): error classes, timeouts, circuit
/// breakers, history, limits, and what each step was given.
@Suite("Engine: around a step")
struct WorkflowEngineStepTests {
  @Test func aNonRetryableErrorFailsTheRunAtOnceAndAResumeRetriesIt() async throws {
    let yaml = """
      workflows:
        - name: w
          steps:
            - {name: bad, plugin: simulate, config: {fail_permanently: true}, retry: {max_attempts: 3, initial_backoff_ms: 1}}
      """
    try await FastEngineHarness.with(yaml: yaml) { harness in
      let failed = try await harness.run("w", id: "nr-1")
      #expect(failed.status == .failed)
      #expect(failed.steps[0].attempts == 1)  // not retried: 1 of 3 attempts
      #expect(failed.steps[0].lastErrorClass == .nonRetryable)
      #expect(!failed.steps[0].lastErrorRetryable)
      // The user can still resume it: one more attempt, again not retried.
      let resumed = try await harness.engine.resume(workflowID: "nr-1", wait: true)
      #expect(resumed.status == .failed && resumed.steps[0].attempts == 2 && resumed.resumes == 1)
    }
  }

  /// A caller is answered as soon as its run completes, and the lease release
  /// follows: a re-run sent at once waits for that release (this server's own
  /// drive), where it used to be refused with ABORTED. (Waits up to 30 s here, not
  /// the default second: under the parallel suite on a starved machine, the
  /// release 50 ms after the answer once took longer than a second to land.)
  @Test func aReRunSentAsSoonAsTheRunIsAnsweredWaitsForItsRelease() async throws {
    let yaml = """
      workflows:
        - name: w
          steps:
            - {name: a, plugin: echo}
            - {name: b, plugin: echo}
      """
    let releases = OneShotSignal<Bool>()
    try await FastEngineHarness.with(
      yaml: yaml, configure: { $0.endedLeasePatience = .seconds(30) }, beforeRelease: { _ = try? await releases.wait() }
    ) { harness in
      let done = try await harness.engine.start(workflow: "w", workflowID: "rr-1", input: Array("1".utf8), wait: true)
      #expect(done.record.status == .completed)
      async let again = harness.engine.resume(workflowID: "rr-1", wait: true, fromStep: "b")
      // The first run's release is held back meanwhile, then lands.
      try await Task.sleep(for: .milliseconds(50))
      releases.finish()
      let rerun = try await again
      #expect(rerun.status == .completed && rerun.steps.map(\.attempts) == [1, 2])
    }
  }

  @Test func anErrorThatSaysNothingIsRetryable() async throws {
    let yaml = """
      workflows:
        - name: w
          steps:
            - {name: s, plugin: opaque, retry: {max_attempts: 2, initial_backoff_ms: 1}}
      """
    try await FastEngineHarness.with(yaml: yaml, plugins: ["opaque": UnclassifiedErrorPlugin()]) { harness in
      let record = try await harness.run("w", id: "opaque-1")
      #expect(record.status == .completed)
      #expect(record.steps[0].attempts == 2)
      #expect(record.steps[0].lastErrorClass == .retryable)
    }
  }

  @Test func aRateLimitedStepWaitsAtLeastItsRetryAfterAndSaysSo() async throws {
    let yaml = """
      workflows:
        - name: w
          steps:
            - name: s
              plugin: simulate
              config: {rate_limit_attempts: 1, retry_after_ms: 2500}
              retry: {max_attempts: 2, initial_backoff_ms: 1, max_backoff_ms: 1}
      """
    try await FastEngineHarness.with(yaml: yaml) { harness in
      _ = try await harness.engine.start(workflow: "w", workflowID: "rl-1", input: [], wait: false)
      let waiting = try await harness.state(of: "rl-1") { $0.steps[0].status == .retrying }
      let step = waiting.steps[0]
      #expect(step.lastErrorClass == .rateLimited)
      #expect(step.waitReason?.contains("rate limited") == true, "\(step.waitReason ?? "")")
      // The backoff cap is 1 ms; the retry-after (2500 ms) wins.
      #expect(step.nextAttemptAtMs - step.finishedAtMs >= 2500)
      let done = try await harness.state(of: "rl-1") { $0.status.isTerminal }
      #expect(done.status == .completed && done.steps[0].attempts == 2)
      #expect(done.steps[0].waitReason == nil && done.steps[0].nextAttemptAtMs == 0)
      // The second attempt began no sooner than the retry-after allowed.
      #expect(done.steps[0].startedAtMs >= step.nextAttemptAtMs - 1)
    }
  }

  @Test func aTimeoutCancelsThePluginAndCountsAsARetryableFailure() async throws {
    let yaml = """
      workflows:
        - name: w
          steps:
            - {name: slow, plugin: sleeper, timeout_ms: 100, retry: {max_attempts: 2, initial_backoff_ms: 1}}
      """
    let sleeper = SleeperPlugin()
    try await FastEngineHarness.with(yaml: yaml, plugins: ["sleeper": sleeper]) { harness in
      let record = try await harness.run("w", id: "to-1")
      #expect(record.status == .failed)
      #expect(record.steps[0].attempts == 2)  // the timeout was retried
      #expect(record.steps[0].lastErrorClass == .retryable)
      #expect(record.steps[0].lastError?.contains("timed out") == true)
      #expect(sleeper.cancelled.withLock { $0 } == [1, 2])  // each attempt's task was cancelled
    }
  }

  /// A run in flight holds no task of its own for its lease: the engine-wide keeper
  /// renews it for as long as the step runs (each renewal moves the run's expiry on),
  /// and the lease's loss (here, a cancel) ends the attempt at once, cancelling the plugin.
  @Test func aLongStepKeepsItsLeaseRenewedAndItsLeasesLossEndsTheAttempt() async throws {
    let yaml = """
      workflows:
        - name: w
          steps:
            - {name: long, plugin: sleeper, retry: {max_attempts: 1}}
      """
    let sleeper = SleeperPlugin()
    try await FastEngineHarness.with(
      yaml: yaml, plugins: ["sleeper": sleeper], configure: { $0.leaseDuration = .seconds(3) }
    ) { harness in
      _ = try await harness.engine.start(workflow: "w", workflowID: "long-1", input: [], wait: false)
      let begun = try await harness.state(of: "long-1") { $0.steps[0].status == .running }
      // Ten leases pass on the clock while the plugin sleeps; only renewals move the expiry.
      let renewed = try await harness.state(of: "long-1", tick: .milliseconds(250)) {
        $0.expiresAtMs >= begun.expiresAtMs + 30_000
      }
      #expect(renewed.status == .running && renewed.steps[0].attempts == 1)
      #expect(sleeper.cancelled.withLock { $0 }.isEmpty, "the attempt still runs")
      _ = try await harness.engine.cancel(workflowID: "long-1", reason: "test")
      try await eventually(timeout: .seconds(10)) {
        guard sleeper.cancelled.withLock({ $0 }) == [1] else { throw TestSupportError("the attempt still runs") }
      }
    }
  }

  @Test func anOpenCircuitMakesStepsWaitForTheProbeWithoutSpendingAttempts() async throws {
    let yaml = """
      workflows:
        - name: w
          steps:
            - {name: call, plugin: flaky, retry: {max_attempts: 1}}
      plugins:
        flaky: {circuit_breaker: {failure_threshold: 2, cooldown_ms: 3000}}
      """
    let service = OutageService()
    try await FastEngineHarness.with(yaml: yaml, plugins: ["flaky": OutagePlugin(service: service)]) { harness in
      // Two consecutive failures, in two runs, open the circuit.
      #expect(try await harness.run("w", id: "cb-1").status == .failed)
      #expect(try await harness.run("w", id: "cb-2").status == .failed)
      #expect(service.executions.withLock { $0 } == 2)

      _ = try await harness.engine.start(workflow: "w", workflowID: "cb-3", input: [], wait: false)
      let waiting = try await harness.state(of: "cb-3") { $0.steps[0].status == .waiting }
      #expect(waiting.status == .running)
      #expect(waiting.steps[0].attempts == 0)  // no attempt begun, none of its budget (1) spent
      #expect(waiting.steps[0].waitReason?.contains("circuit of plugin 'flaky' is open") == true)
      #expect(waiting.steps[0].nextAttemptAtMs > 0)
      #expect(service.executions.withLock { $0 } == 2)

      // The service recovers; the half-open probe (cb-3's attempt) succeeds.
      service.down.withLock { $0 = false }
      let done = try await harness.state(of: "cb-3") { $0.status.isTerminal }
      #expect(done.status == .completed)
      #expect(done.steps[0].attempts == 1)
      #expect(done.steps[0].waitReason == nil)
      #expect(service.executions.withLock { $0 } == 3)
      // Closed again: other runs go straight through.
      #expect(try await harness.run("w", id: "cb-4").status == .completed)
    }
  }

  @Test func historyIsAppendedCappedAndGivenByPolicy() async throws {
    let yaml = """
      workflows:
        - name: chat
          history_max_messages: 3
          steps:
            - name: ask
              plugin: simulate
              inputs: [input]
              config: {append_history: [{role: user, content: q1}, {role: assistant, content: a1}]}
            - name: again
              plugin: simulate
              inputs: [ask]
              config: {append_history: [{role: user, content: q2}, {role: assistant, content: a2}]}
            - {name: recent, plugin: simulate, history: {last: 2}, inputs: [input, again]}
            - {name: everything, plugin: simulate, history: all}
            - {name: blind, plugin: simulate}
      """
    try await FastEngineHarness.with(yaml: yaml) { harness in
      _ = try await harness.run("chat", id: "h-1", input: #"{"q":"hello"}"#)
      let record = try await harness.engine.state(workflowID: "h-1", includeArtifacts: true, includeHistory: true)
      #expect(record.status == .completed)
      // Four messages appended, capped at three: the oldest (q1) trimmed.
      #expect(record.history.map(\.content) == ["a1", "q2", "a2"])
      #expect(record.historyLength == 3)
      #expect(try EngineHarness.json(record, "recent")["history"] == .array([.string("q2"), .string("a2")]))
      #expect(try EngineHarness.json(record, "everything")["history"] == .array([.string("a1"), .string("q2"), .string("a2")]))
      #expect(try EngineHarness.json(record, "again")["history"] == nil)  // default policy: none
      #expect(try EngineHarness.json(record, "blind")["history"] == nil)

      // Pruning you can see: each step's state says what it was given.
      let given = record.steps.map { $0.given }
      #expect(given[0]?.inputs == [GivenContext.Input(name: "input", bytes: UInt64(#"{"q":"hello"}"#.utf8.count))])
      #expect(given[0]?.historyMessages == 0)
      #expect(given[2]?.inputs.map(\.name) == ["input", "again"])
      #expect(given[2]?.inputs.last?.bytes == record.steps[1].artifactBytes)
      #expect(given[2]?.historyMessages == 2)
      #expect(given[2]?.historyBytes == UInt64("userq2assistanta2".utf8.count))
      #expect(given[3]?.inputs == [] && given[3]?.historyMessages == 3)
      #expect(given[4]?.historyMessages == 0 && given[4]?.historyBytes == 0)
    }
  }

  @Test func oversizedOutputFailsOnceNamingTheStepAndSize() async throws {
    let yaml = """
      workflows:
        - name: w
          max_input_bytes: 64
          steps:
            - {name: big, plugin: simulate, config: {artifact_bytes: 5000}, max_artifact_bytes: 1000, retry: {max_attempts: 3, initial_backoff_ms: 1}}
        - name: chatty
          max_artifact_bytes: 100
          steps:
            - {name: talk, plugin: simulate, config: {append_history: [{role: assistant, content: "\(String(repeating: "y", count: 120))"}]}, retry: {max_attempts: 3}}
      """
    try await FastEngineHarness.with(yaml: yaml) { harness in
      let record = try await harness.run("w", id: "big-1")
      #expect(record.status == .failed)
      #expect(record.steps[0].attempts == 1)  // never retried
      #expect(record.steps[0].lastErrorClass == .nonRetryable)
      let message = try #require(record.steps[0].lastError)
      #expect(message.contains("'big'") && message.contains("5000 bytes") && message.contains("1000 bytes"), "\(message)")
      #expect(record.artifacts["big"] == nil)

      let chatty = try await harness.engine.state(
        workflowID: try await harness.run("chatty", id: "chatty-1").workflowID, includeArtifacts: false,
        includeHistory: true)
      #expect(chatty.status == .failed && chatty.steps[0].attempts == 1)
      #expect(chatty.steps[0].lastError?.contains("'talk' appended 129 bytes of history; the limit is 100 bytes") == true)
      #expect(chatty.historyLength == 0)

      // A workflow input over the limit starts nothing.
      let error = await #expect(throws: EngineError.self) {
        _ = try await harness.engine.start(
          workflow: "w", workflowID: "big-2", input: Array("\"\(String(repeating: "x", count: 100))\"".utf8), wait: true)
      }
      #expect(error?.code == .resourceExhausted)
      #expect(error?.message.contains("workflow 'w' is 102 bytes; the limit is 64 bytes") == true, "\(error?.message ?? "")")
      #expect(try await harness.store.load(workflowID: "big-2", includeArtifacts: false) == nil)
    }
  }
}
