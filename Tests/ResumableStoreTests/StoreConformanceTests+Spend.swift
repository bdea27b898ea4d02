import ResumableCore
import ResumableStore
import ResumableTestSupport
import Testing

/// Spend windows and run budgets, asserted against both stores.
extension StoreConformanceTests {
  /// A window sums the last hour in minutes, per scope, and forgets what is older.
  @Test(arguments: StoreKind.allCases)
  func spendWindowsSumTheLastHourPerScope(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let start: Int64 = 1_800_000_000_000  // on a minute boundary
      #expect(try await s.store.readSpend(.server, nowMs: start) == SpendReading(spentMicros: 0, nextDropAtMs: nil))
      try await s.store.addSpend(100_000, to: .server, nowMs: start)
      try await s.store.addSpend(50_000, to: .server, nowMs: start + 30_000)
      try await s.store.addSpend(0, to: .server, nowMs: start + 30_000)
      try await s.store.addSpend(70_000, to: .workflow("w"), nowMs: start + 30_000)
      try await s.store.addSpend(25_000, to: .server, nowMs: start + 20 * 60_000)
      let now = try await s.store.readSpend(.server, nowMs: start + 30 * 60_000)
      #expect(now == SpendReading(spentMicros: 175_000, nextDropAtMs: start + 60 * 60_000))
      #expect(try await s.store.readSpend(.workflow("w"), nowMs: start + 60_000).spentMicros == 70_000)
      #expect(try await s.store.readSpend(.workflow("other"), nowMs: start).spentMicros == 0)
      // An hour on, the first minute has left the window; the one 20 minutes later has not.
      let later = try await s.store.readSpend(.server, nowMs: start + 60 * 60_000)
      #expect(later == SpendReading(spentMicros: 25_000, nextDropAtMs: start + 80 * 60_000))
      #expect(try await s.store.readSpend(.server, nowMs: start + 81 * 60_000).spentMicros == 0)
    }
  }

  /// A run's budget is stored with it, and only a budget answer to a budget
  /// stop raises it; an approval answer is refused there, and the reverse.
  @Test(arguments: StoreKind.allCases)
  func aBudgetStopIsAnsweredOnlyByABudgetAnswer(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      var run = s.newRun("r", timing: s.timing())
      run.budgetMicros = 250_000
      guard case .created(let fence) = try await s.store.create(run) else { throw StoreError(.conflict, "not created") }
      #expect(try await s.store.load(workflowID: "r", includeArtifacts: false)?.budgetMicros == 250_000)
      let stop = BudgetStop(budgetMicros: 250_000, spentMicros: 200_000, estimateMicros: 100_000)
      let approval = PendingApproval(
        stepName: "a", cursor: 0, token: "tok", kind: .budget, requestedAtMs: 1, deadlineMs: Int64.max / 2, budget: stop)
      var waiting = StepProgress(status: .waiting)
      waiting.waitReason = stop.message(step: "a")
      try await s.store.requestApproval(
        ApprovalRequest(workflowID: "r", fence: fence, approval: approval, step: waiting, usage: StepUsage(), timing: s.timing()))
      let stopped = try #require(try await s.store.load(workflowID: "r", includeArtifacts: false))
      #expect(stopped.status == .awaitingBudget && stopped.approval?.budget == stop)
      let asApproval = try await s.store.answerApproval(
        ApprovalAnswer(workflowID: "r", token: "tok", approve: true, note: "", timing: s.timing()), lease: .seconds(10))
      guard case .refused(let why) = asApproval else { throw StoreError(.conflict, "not refused: \(asApproval)") }
      #expect(why.contains("AWAITING_BUDGET"))
      let raised = try await s.store.answerApproval(
        ApprovalAnswer(workflowID: "r", token: "tok", approve: true, note: "", timing: s.timing(), budget: .raise(toMicros: 900_000)),
        lease: .seconds(10))
      guard case .approved = raised else { throw StoreError(.conflict, "not raised: \(raised)") }
      let after = try #require(try await s.store.load(workflowID: "r", includeArtifacts: false))
      #expect(after.status == .running && after.budgetMicros == 900_000 && after.approval == nil)
      let again = try await s.store.answerApproval(
        ApprovalAnswer(workflowID: "r", token: "tok", approve: true, note: "", timing: s.timing(), budget: .raise(toMicros: 1)),
        lease: .seconds(10))
      guard case .refused(let twice) = again else { throw StoreError(.conflict, "not refused: \(again)") }
      #expect(twice.contains("once"))
    }
  }
}
