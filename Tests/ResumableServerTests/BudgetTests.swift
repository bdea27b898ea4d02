import Foundation
import ResumableClient
import ResumableCore
import ResumableServer
import ResumableTestSupport
import ResumableWire
import Testing

/// Run budgets and the spend guard over the real socket and a real Redis: an
/// attempt that would pass its run's budget never starts, and the shared
/// hourly cap holds attempts back on every server.
@Suite("Budgets")
struct BudgetTests {
  static func yaml(record: String, onBudget: String = "pause") -> String {
    """
    workflows:
      - name: five
        budget_usd: 0.25
        on_budget: \(onBudget)
        steps:
          - {name: s1, plugin: simulate, config: {cost_usd: 0.10, record: \(record)}}
          - {name: s2, plugin: simulate, inputs: [s1], config: {cost_usd: 0.10, record: \(record)}}
          - {name: s3, plugin: simulate, inputs: [s2], config: {cost_usd: 0.10, record: \(record)}}
          - {name: s4, plugin: simulate, inputs: [s3], config: {cost_usd: 0.10, record: \(record)}}
          - {name: s5, plugin: simulate, inputs: [s4], config: {cost_usd: 0.10, record: \(record)}}
      - name: fan
        parallel: true
        steps:
          - {name: a, plugin: simulate, config: {cost_usd: 0.10, latency_ms: 200, record: \(record)}}
          - {name: b, plugin: simulate, config: {cost_usd: 0.10, latency_ms: 200, record: \(record)}}
          - {name: c, plugin: simulate, config: {cost_usd: 0.10, latency_ms: 200, record: \(record)}}
          - {name: d, plugin: simulate, inputs: [a, b, c], config: {cost_usd: 0.10, record: \(record)}}
      - name: paid
        steps:
          - {name: only, plugin: simulate, config: {cost_usd: 0.10, record: \(record)}}

    """
  }

  static func withServer(
    onBudget: String = "pause", configure: @escaping @Sendable (inout SidecarConfiguration) -> Void = { _ in },
    _ body: (LiveServer, RecordFile) async throws -> Void
  ) async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      try await LiveServer.with(redis: redis, workflows: yaml(record: record.path, onBudget: onBudget), configure: configure) {
        try await body($0, record)
      }
    }
  }

  /// The case: $0.10 a step, a $0.25 budget. Two steps commit; the
  /// third attempt never begins; a raise to $1 completes the run at $0.50.
  @Test func aRunPausesBeforeTheAttemptThatWouldPassItsBudgetAndARaiseCompletesIt() async throws {
    try await Self.withServer { server, record in
      try await server.withClient { client in
        let paused = try await client.startWorkflow(StartWorkflowRequest(workflow: "five", workflowID: "b-1")).state
        #expect(paused.status == .awaitingBudget)
        #expect(record.executions(of: "b-1") == ["s1": 1, "s2": 1], "no third execution")
        #expect(paused.cost.spentMicros == 200_000)
        #expect(paused.currentStep == "s3")
        #expect(paused.steps[2].attempts == 0, "the attempt given back is not counted")
        #expect(paused.budget.hasBudget && paused.budget.limitMicros == 250_000)
        #expect(paused.budget.spentMicros == 200_000 && paused.budget.estimateMicros == 100_000)
        #expect(paused.budget.projectedMicros == 300_000)
        #expect(paused.approval.kind == "budget" && !paused.approval.token.isEmpty)
        #expect(paused.steps[2].waitReason.contains("past its budget of $0.25"), "\(paused.steps[2].waitReason)")

        // Bad answers lose nothing.
        let below = await clientError {
          _ = try await client.answerBudget(AnswerBudgetRequest(workflowID: "b-1", token: paused.approval.token, raiseToUsd: 0.15))
        }
        #expect(below?.code == .invalidArgument && below?.message.contains("$0.20") == true, "\(String(describing: below))")
        let negative = await clientError {
          _ = try await client.answerBudget(AnswerBudgetRequest(workflowID: "b-1", token: paused.approval.token, raiseToUsd: -1))
        }
        #expect(negative?.code == .invalidArgument)
        let unknown = await clientError {
          _ = try await client.answerBudget(AnswerBudgetRequest(workflowID: "nobody", token: "t", raiseToUsd: 1))
        }
        #expect(unknown?.code == .notFound)
        let viaApprove = await clientError {
          _ = try await client.approveStep(ApproveStepRequest(workflowID: "b-1", token: paused.approval.token))
        }
        #expect(viaApprove?.code == .failedPrecondition && viaApprove?.message.contains("AWAITING_BUDGET") == true)
        let resume = await clientError { _ = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "b-1")) }
        #expect(resume?.code == .failedPrecondition && resume?.message.contains("budget") == true)
        #expect(record.executions(of: "b-1") == ["s1": 1, "s2": 1])

        let done = try await client.answerBudget(
          AnswerBudgetRequest(workflowID: "b-1", token: paused.approval.token, raiseToUsd: 1, note: "worth it")
        ).state
        #expect(done.status == .completed)
        #expect(done.cost.spentMicros == 500_000)
        #expect(done.budget.limitMicros == 1_000_000)
        #expect(record.executions(of: "b-1") == ["s1": 1, "s2": 1, "s3": 1, "s4": 1, "s5": 1])
        #expect(done.cost.savedByResumeMicros == 0, "a raise is not a resume")
        let reused = await clientError {
          _ = try await client.answerBudget(AnswerBudgetRequest(workflowID: "b-1", token: paused.approval.token, raiseToUsd: 2))
        }
        #expect(reused?.code == .failedPrecondition && reused?.message.contains("once") == true)
      }
    }
  }

  @Test func aStartsBudgetOverridesTheWorkflowsAndARejectionFailsTheRun() async throws {
    try await Self.withServer { server, record in
      try await server.withClient { client in
        let enough = try await client.startWorkflow(StartWorkflowRequest(workflow: "five", workflowID: "b-2", budgetUsd: 0.5)).state
        #expect(enough.status == .completed && enough.cost.spentMicros == 500_000)
        let tight = try await client.startWorkflow(StartWorkflowRequest(workflow: "paid", workflowID: "b-3", budgetUsd: 0.05)).state
        #expect(tight.status == .awaitingBudget)
        #expect(record.executions(of: "b-3").isEmpty, "the first attempt never ran")
        let rejected = try await client.answerBudget(
          AnswerBudgetRequest(workflowID: "b-3", token: tight.approval.token, reject: true, note: "no")
        ).state
        #expect(rejected.status == .failed && rejected.error.contains("refused more budget"), "\(rejected.error)")
        let bad = await clientError {
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "paid", workflowID: "b-4", budgetUsd: .infinity))
        }
        #expect(bad?.code == .invalidArgument && bad?.message.contains("budget_usd") == true)
      }
    }
  }

  @Test func onBudgetFailFailsAtOnceNamingTheProjection() async throws {
    try await Self.withServer(onBudget: "fail") { server, record in
      try await server.withClient { client in
        let failed = try await client.startWorkflow(StartWorkflowRequest(workflow: "five", workflowID: "f-1")).state
        #expect(failed.status == .failed)
        #expect(failed.error.contains("$0.30") && failed.error.contains("$0.25"), "\(failed.error)")
        #expect(failed.steps[2].lastErrorClass == .nonRetryable)
        #expect(record.executions(of: "f-1") == ["s1": 1, "s2": 1])
      }
    }
  }

  /// Branches running at once count against the budget together: of a, b and
  /// c ($0.10 each) under a $0.25 budget, two start and the third waits; the
  /// run pauses once they end, and a raise runs the rest.
  @Test func parallelBranchesShareTheBudget() async throws {
    try await Self.withServer { server, record in
      try await server.withClient { client in
        let paused = try await client.startWorkflow(StartWorkflowRequest(workflow: "fan", workflowID: "p-1", budgetUsd: 0.25)).state
        #expect(paused.status == .awaitingBudget)
        let ran = record.executions(of: "p-1")
        #expect(ran.values.reduce(0, +) == 2 && ran["d"] == nil, "\(ran)")
        #expect(paused.cost.spentMicros == 200_000)
        let done = try await client.answerBudget(
          AnswerBudgetRequest(workflowID: "p-1", token: paused.approval.token, raiseToUsd: 1)
        ).state
        #expect(done.status == .completed && done.cost.spentMicros == 400_000)
        #expect(record.executions(of: "p-1") == ["a": 1, "b": 1, "c": 1, "d": 1])
      }
    }
  }

  /// The spend guard is one window in Redis for every server: once the runs of
  /// one server have spent the hour's cap, a run on another waits (WAITING,
  /// no attempt spent) instead of spending.
  @Test func theSpendGuardIsSharedByServersAndHoldsAttempts() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      let prefix = uniqueKeyPrefix()
      let guarded: @Sendable (inout SidecarConfiguration) -> Void = { $0.engine.maxSpendPerHourMicros = 250_000 }
      try await LiveServer.with(redis: redis, workflows: Self.yaml(record: record.path), keyPrefix: prefix, configure: guarded) { first in
        try await LiveServer.with(redis: redis, workflows: Self.yaml(record: record.path), keyPrefix: prefix, configure: guarded) { second in
          try await first.withClient { client in
            for id in ["g-1", "g-2"] {
              let state = try await client.startWorkflow(StartWorkflowRequest(workflow: "paid", workflowID: id)).state
              #expect(state.status == .completed)
            }
            let health = try await client.health(HealthRequest())
            #expect(health.maxSpendPerHourMicros == 250_000 && health.spentLastHourMicros == 200_000)
          }
          try await second.withClient { client in
            let held = try await client.startWorkflow(StartWorkflowRequest(workflow: "paid", workflowID: "g-3", noWait: true)).state
            #expect(held.status == .running)
            try await eventually(timeout: .seconds(10)) {
              let state = try await client.getState(GetStateRequest(workflowID: "g-3")).state
              guard state.steps[0].status == .waiting else { throw TestSupportError("\(state.steps[0].status)") }
              #expect(state.steps[0].waitReason.contains("spend guard: $0.20 spent in the last hour"), "\(state.steps[0].waitReason)")
              #expect(state.steps[0].attempts == 0 && state.steps[0].nextAttemptAtMs > 0)
            }
            #expect(record.executions(of: "g-3").isEmpty)
            let health = try await client.health(HealthRequest())
            #expect(health.spentLastHourMicros == 200_000, "the second server sees the first's spending")
            _ = try await client.cancelWorkflow(CancelWorkflowRequest(workflowID: "g-3", reason: "test over"))
          }
        }
      }
    }
  }
}
