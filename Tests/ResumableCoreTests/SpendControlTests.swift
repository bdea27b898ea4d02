import ResumableCore
import ResumableTestSupport
import Testing

/// Budgets, the spend guard and shared limits on the in-memory store and a
/// manual clock: what needs an hour to pass, in milliseconds.
@Suite("Spend control")
struct SpendControlTests {
  static let yaml = """
    limits:
      tpm: {tokens_per_minute: 100}
    workflows:
      - name: paid
        steps:
          - {name: only, plugin: simulate, config: {cost_usd: 0.10}}
      - name: wordy
        steps:
          - {name: talk, plugin: simulate, limits: [tpm], config: {input_tokens: 40, output_tokens: 20}}
    """

  /// Past the hour's cap an attempt waits, spending nothing, and goes on once
  /// the spending that filled the window has left it.
  @Test func theSpendGuardHoldsAnAttemptUntilTheHourAllowsIt() async throws {
    try await FastEngineHarness.with(yaml: Self.yaml, configure: { $0.maxSpendPerHourMicros = 250_000 }) { harness in
      #expect(try await harness.run("paid", id: "a").status == .completed)
      #expect(try await harness.run("paid", id: "b").status == .completed)
      _ = try await harness.engine.start(workflow: "paid", workflowID: "c", input: Array("null".utf8), wait: false)
      let held = try await harness.state(of: "c", tick: .seconds(1), limit: .seconds(30)) { $0.steps[0].status == .waiting }
      #expect(held.steps[0].waitReason?.hasPrefix("spend guard: $0.20 spent in the last hour") == true)
      #expect(held.steps[0].attempts == 0 && held.ledger.spentMicros == 0)
      let health = await harness.engine.health()
      #expect(health.spendGuard?.spentMicros == 200_000 && health.spendGuard?.capMicros == 250_000)
      let done = try await harness.state(of: "c", tick: .seconds(5), limit: .seconds(7_200)) { $0.status.isTerminal }
      #expect(done.status == .completed && done.steps[0].attempts == 1 && done.ledger.spentMicros == 100_000)
    }
  }

  /// A tokens-per-minute limit reserves an attempt's tokens before it runs, so
  /// the second 60-token run of a 100-a-minute limit waits for the bucket to refill.
  @Test func aTokenLimitHoldsTheNextAttemptUntilTheBucketRefills() async throws {
    try await FastEngineHarness.with(yaml: Self.yaml) { harness in
      #expect(try await harness.run("wordy", id: "w1").status == .completed)
      _ = try await harness.engine.start(workflow: "wordy", workflowID: "w2", input: Array("null".utf8), wait: false)
      let held = try await harness.state(of: "w2", tick: .milliseconds(10), limit: .seconds(1)) { $0.steps[0].status == .waiting }
      #expect(held.steps[0].waitReason?.contains("limit 'tpm'") == true, "\(held.steps[0].waitReason ?? "")")
      #expect(held.steps[0].nextAttemptAtMs > 0 && held.steps[0].attempts == 0)
      let done = try await harness.state(of: "w2", tick: .seconds(1), limit: .seconds(120)) { $0.status.isTerminal }
      #expect(done.status == .completed && done.steps[0].attempts == 1)
    }
  }
}
