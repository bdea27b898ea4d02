import Foundation
import ResumableCore
import ResumableTestSupport
import Testing

@Suite("Error classes and backoff")
struct ErrorClassTests {
  let policy = RetryPolicy(maxAttempts: 9, initialBackoffMilliseconds: 100, maxBackoffMilliseconds: 1000, multiplier: 2)

  @Test func backoffIsFullJitterUnderAnExponentialCap() {
    var generator = SplitMix64(seed: 42)
    for attempt in 1...8 {
      let cap = Duration.milliseconds(policy.backoffCap(afterAttempt: attempt))
      let draws = (0..<400).map { _ in policy.backoff(afterAttempt: attempt, using: &generator) }
      #expect(draws.allSatisfy { $0 >= .zero && $0 <= cap }, "attempt \(attempt)")
      // Full jitter: the draws cover the whole range, not just its top.
      #expect(draws.min()! < cap / 4 && draws.max()! > cap * 3 / 4, "attempt \(attempt): \(draws.min()!)…\(draws.max()!)")
    }
    #expect(policy.backoffCap(afterAttempt: 8) == 1000)
  }

  @Test func retryAfterIsAFloorEvenPastTheCap() {
    var generator = SplitMix64(seed: 7)
    for attempt in 1...5 {
      for _ in 0..<100 {
        let delay = policy.backoff(afterAttempt: attempt, retryAfter: .milliseconds(2500), using: &generator)
        #expect(delay == .milliseconds(2500))  // the cap (≤ 1000 ms) never shortens a retry-after
      }
    }
    // A short retry-after leaves the jittered backoff in charge, never below it.
    let delays = (0..<200).map { _ in policy.backoff(afterAttempt: 4, retryAfter: .milliseconds(10), using: &generator) }
    #expect(delays.allSatisfy { $0 >= .milliseconds(10) && $0 <= .milliseconds(800) })
    #expect(delays.contains { $0 > .milliseconds(100) })
  }

  @Test func failuresSayWhetherRetryingHelps() {
    #expect(StepFailure("x", retryable: true).errorClass == .retryable)
    #expect(StepFailure("x", retryable: false).errorClass == .nonRetryable)
    #expect(!StepFailure("x", retryable: false).retryable)
    let limited = StepFailure.rateLimited("slow down", retryAfter: .seconds(3))
    #expect(limited.retryable && limited.errorClass == .rateLimited(retryAfter: .seconds(3)))
    #expect(FailureKind(limited.errorClass) == .rateLimited)
  }

  @Test func simulateRateLimitsItsFirstAttempts() async throws {
    let config: JSONValue = .object(["rate_limit_attempts": .number(1), "retry_after_ms": .number(1500)])
    let context = StepContext(
      workflowID: "w", workflowName: "wf", stepName: "s", stepIndex: 0, attempt: 1, config: config,
      inputs: [:], deadline: nil)
    let failure = await #expect(throws: StepFailure.self) { _ = try await SimulatePlugin().execute(context) }
    #expect(failure?.errorClass == .rateLimited(retryAfter: .milliseconds(1500)))
    var second = context
    second.attempt = 2
    _ = try await SimulatePlugin().execute(second)
  }
}

@Suite("Circuit breaker")
struct CircuitBreakerTests {
  let start = ContinuousClock.now

  func breakers() -> CircuitBreakers {
    CircuitBreakers(
      policies: ["llm": CircuitBreakerPolicy(failureThreshold: 3, cooldown: .seconds(10)), "free": .off],
      defaultPolicy: nil, pollInterval: .milliseconds(50))
  }

  @Test func opensAfterConsecutiveFailuresAndProbesAfterTheCooldown() {
    let breakers = breakers()
    for _ in 0..<2 {
      #expect(breakers.admit("llm", now: start) == .proceed(probe: false))
      breakers.record("llm", .failure, probe: false, now: start)
    }
    // A success resets the count: failures must be consecutive.
    breakers.record("llm", .success, probe: false, now: start)
    for _ in 0..<3 {
      #expect(breakers.admit("llm", now: start) == .proceed(probe: false))
      breakers.record("llm", .failure, probe: false, now: start)
    }
    guard case .wait(let until, let reason) = breakers.admit("llm", now: start + .seconds(1)) else {
      Issue.record("the circuit should be open")
      return
    }
    #expect(until == start + .seconds(10))
    #expect(reason.contains("'llm'") && reason.contains("open"))
    // After the cool-down one caller probes; the others wait for its result.
    #expect(breakers.admit("llm", now: start + .seconds(10)) == .proceed(probe: true))
    guard case .wait(_, let halfOpen) = breakers.admit("llm", now: start + .seconds(10)) else {
      Issue.record("only one probe at a time")
      return
    }
    #expect(halfOpen.contains("half-open"))
    // The probe fails: open again for a new cool-down.
    breakers.record("llm", .failure, probe: true, now: start + .seconds(11))
    #expect(breakers.admit("llm", now: start + .seconds(20)) == .wait(until: start + .seconds(21), reason: "the circuit of plugin 'llm' is open after repeated failures; waiting for its half-open probe"))
    // The next probe succeeds: closed, everyone proceeds.
    #expect(breakers.admit("llm", now: start + .seconds(21)) == .proceed(probe: true))
    breakers.record("llm", .success, probe: true, now: start + .seconds(21))
    #expect(breakers.admit("llm", now: start + .seconds(21)) == .proceed(probe: false))
    #expect(breakers.admit("llm", now: start + .seconds(21)) == .proceed(probe: false))
  }

  @Test func aProbeThatSaysNothingLetsAnotherProbe() {
    let breakers = breakers()
    for _ in 0..<3 { breakers.record("llm", .failure, probe: false, now: start) }
    #expect(breakers.admit("llm", now: start + .seconds(10)) == .proceed(probe: true))
    breakers.record("llm", .neutral, probe: true, now: start + .seconds(10))
    #expect(breakers.admit("llm", now: start + .seconds(10)) == .proceed(probe: true))
  }

  @Test func nonRetryableErrorsAndOtherPluginsDoNotCount() {
    let breakers = breakers()
    for _ in 0..<10 { breakers.record("llm", .neutral, probe: false, now: start) }
    #expect(breakers.admit("llm", now: start) == .proceed(probe: false))
    for _ in 0..<10 { breakers.record("free", .failure, probe: false, now: start) }
    #expect(breakers.admit("free", now: start) == .proceed(probe: false))
    #expect(breakers.admit("other", now: start) == .proceed(probe: false))
    #expect(breakers.policy(for: "free") == nil && breakers.policy(for: "other") == nil)
  }
}

@Suite("Definitions: step and plugin keys")
struct AgentDefinitionKeysTests {
  static let registry = PluginRegistry.builtIn()

  @Test func historyLimitsAndBreakersParse() throws {
    let yaml = """
      workflows:
        - name: chat
          max_input_bytes: 2048
          max_artifact_bytes: 4096
          history_max_messages: 20
          steps:
            - {name: a, plugin: simulate}
            - {name: b, plugin: simulate, history: all, max_artifact_bytes: 100}
            - {name: c, plugin: echo, history: {last: 3}, inputs: [a]}
            - {name: d, plugin: echo, history: none}
      plugins:
        simulate: {circuit_breaker: {failure_threshold: 2, cooldown_ms: 1500}}
        echo: {circuit_breaker: off}
      """
    let definitions = try DefinitionsFile.parseDefinitions(yaml, file: "f.yaml", registry: Self.registry)
    let chat = try #require(definitions.workflows.first)
    #expect(chat.maxInputBytes == 2048 && chat.maxHistoryMessages == 20)
    #expect(chat.steps.map(\.history) == [.none, .all, .last(3), .none])
    #expect(chat.steps.map(\.maxArtifactBytes) == [4096, 100, 4096, 4096])
    #expect(definitions.circuitBreakers["simulate"] == CircuitBreakerPolicy(failureThreshold: 2, cooldown: .milliseconds(1500)))
    #expect(definitions.circuitBreakers["echo"]?.enabled == false)
    var configuration = EngineConfiguration()
    definitions.apply(to: &configuration)
    #expect(configuration.circuitBreakers == definitions.circuitBreakers)
    // The snapshot round-trips, and one stored before these keys existed still reads.
    let encoded = try JSONEncoder().encode(chat)
    #expect(try JSONDecoder().decode(WorkflowDefinition.self, from: encoded) == chat)
    let v1 = #"{"name":"w","steps":[{"config":{},"inputs":[],"name":"a","plugin":"echo","retry":{"initialBackoffMilliseconds":100,"maxAttempts":3,"maxBackoffMilliseconds":5000,"multiplier":2}}]}"#
    let old = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(v1.utf8))
    #expect(old.steps[0].history == HistoryPolicy.none && old.steps[0].maxArtifactBytes == nil && old.maxInputBytes == nil)
  }

  @Test(arguments: [
    ("workflows: [{name: w, steps: [{name: a, plugin: echo, history: some}]}]", "step 'a'", "'history' must be none, all or {last: N}"),
    ("workflows: [{name: w, steps: [{name: a, plugin: echo, history: {last: 0}}]}]", "step 'a'", "'last' must be a whole number ≥ 1"),
    ("workflows: [{name: w, steps: [{name: a, plugin: echo, history: {first: 2}}]}]", "step 'a'", "unknown key 'first'"),
    ("workflows: [{name: w, steps: [{name: a, plugin: echo, max_artifact_bytes: -1}]}]", "step 'a'", "'max_artifact_bytes' must be a whole number ≥ 1"),
    ("workflows: [{name: w, max_input_bytes: big, steps: [{name: a, plugin: echo}]}]", "workflow 'w'", "'max_input_bytes'"),
    ("workflows: [{name: w, history_max_messages: 0, steps: [{name: a, plugin: echo}]}]", "workflow 'w'", "'history_max_messages'"),
    ("workflows: [{name: w, steps: [{name: a, plugin: echo}]}]\nplugins: {nope: {}}", "f.yaml", "unknown plugin 'nope'"),
    ("workflows: [{name: w, steps: [{name: a, plugin: echo}]}]\nplugins: {echo: {breaker: 1}}", "f.yaml", "unknown key 'breaker'"),
    ("workflows: [{name: w, steps: [{name: a, plugin: echo}]}]\nplugins: {echo: {circuit_breaker: {failure_threshold: 0}}}", "f.yaml", "'failure_threshold' must be a whole number ≥ 1"),
    ("workflows: [{name: w, steps: [{name: a, plugin: simulate, config: {append_history: [{role: user}]}}]}]", "step 'a'", "append_history"),
  ])
  func badKeysAreNamed(_ yaml: String, _ location: String, _ message: String) {
    let error = #expect(throws: DefinitionError.self) {
      _ = try DefinitionsFile.parseDefinitions(yaml, file: "f.yaml", registry: Self.registry)
    }
    #expect(error?.description.contains(location) == true, "\(error?.description ?? "")")
    #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
  }
}
