import ResumableCore
import ResumableStore
import ResumableTestSupport
import Testing

/// The writes of a map step's items, asserted against both stores.
extension StoreConformanceTests {
  /// A parallel run whose one step maps over its input.
  static let mapDefinition = WorkflowDefinition(
    name: "m",
    steps: [StepDefinition(name: "each", plugin: "simulate", map: StepDefinition.MapSpec(over: "input"))],
    parallelism: WorkflowDefinition.Parallelism())

  /// An item's commit that begins the next item of its lane writes both
  /// records, the item's artifact and its charge, and the two events in order
  /// (the commit's, then the begin's); a repeat of it writes nothing again.
  @Test(arguments: StoreKind.allCases)
  func anItemsCommitBeginsTheNextItemOfItsLane(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let timing = s.timing()
      let created = try await s.store.create(
        NewRun(
          workflowID: "r", definition: Self.mapDefinition, input: Array("[1,2,3]".utf8),
          firstStep: StepProgress().beginningAttempt(at: timing.nowMs), timing: timing))
      guard case .created(let fence) = created else { throw StoreError(.conflict, "not created: \(created)") }
      let begun = StepProgress().beginningAttempt(at: s.nowMs)
      try await s.store.beginAttempt(
        AttemptBegin(
          workflowID: "r", fence: fence, cursor: StepCommit.branch, stepName: "each[0]", step: begun, resume: nil,
          timing: s.timing()))
      let start = try await s.store.lastEventPosition(workflowID: "r")

      var done = begun
      done.status = .completed
      done.usage = StepUsage(inputTokens: 3, costMicros: 20_000)
      done.committedCostMicros = 20_000
      let next = StepProgress(status: .failed, attempts: 1, lastError: "boom").beginningAttempt(at: s.nowMs)
      let commit = StepCommit(
        workflowID: "r", fence: fence, cursor: StepCommit.branch, stepName: "each[0]", artifact: Array("10".utf8),
        step: done, usage: StepUsage(inputTokens: 3, costMicros: 20_000), next: ("each[2]", next), timing: s.timing(),
        branchCursor: 0)
      try await s.store.commitStep(commit)
      let after = try await s.snapshot("r")
      let record = try #require(after.record)
      #expect(record.status == .running && record.cursor == 0)
      #expect(record.items["each"] == [0: done, 2: next])
      #expect(next.attempts == 2 && record.items["each"]?[2]?.status == .running)
      #expect(record.artifacts == ["each[0]": Array("10".utf8)])
      #expect(record.ledger == RunLedger(spentMicros: 20_000, inputTokens: 3))
      let events = try #require(try await s.store.events(workflowID: "r", after: start, limit: 10)).events.map(\.event)
      #expect(events.map(\.type) == ["step_committed", "attempt_started"])
      #expect(events.map(\.step) == ["each[0]", "each[2]"] && events.map(\.attempt) == [1, 2])
      #expect(events.allSatisfy { $0.status == .running })

      // The reply was lost: the same write again is answered as the first, and writes nothing.
      try await s.store.commitStep(commit)
      #expect(try await s.snapshot("r") == after)
      // A commit that begins nothing along (the lane's last item) writes one event.
      var last = next
      last.status = .completed
      try await s.store.commitStep(
        StepCommit(
          workflowID: "r", fence: fence, cursor: StepCommit.branch, stepName: "each[2]", artifact: Array("30".utf8),
          step: last, usage: StepUsage(), next: nil, timing: s.timing(), branchCursor: 0))
      #expect(try await s.eventTypes("r").suffix(3) == ["step_committed", "attempt_started", "step_committed"])
      #expect(try await s.store.load(workflowID: "r", includeArtifacts: false)?.ledger == RunLedger(spentMicros: 20_000, inputTokens: 3))
    }
  }
}
