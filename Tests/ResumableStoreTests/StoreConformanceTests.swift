import ResumableCore
import ResumableStore
import ResumableTestSupport
import Testing

/// The `StateStore` contract, asserted the same way against the Redis store
/// (a private redis-server) and the in-memory one (a manual clock), so the
/// fake the engine's fast tests use cannot drift from the real store.
@Suite("Store conformance")
struct StoreConformanceTests {
  @Test(arguments: StoreKind.allCases)
  func createTakesTheLeaseOnceAndADuplicateWritesNothing(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let timing = s.timing()
      let first = try await s.store.create(s.newRun("r", timing: timing))
      guard case .created(let fence) = first else { throw StoreError(.conflict, "not created: \(first)") }
      #expect(fence > 0)
      let record = try #require(try await s.store.load(workflowID: "r", includeArtifacts: true))
      #expect(record.status == .running && record.cursor == 0 && record.fence == fence)
      #expect(record.steps.map(\.status) == [.running, .pending, .pending] && record.steps[0].attempts == 1)
      #expect(record.definition == RedisStateStoreTests.definition && record.input == Array("{}".utf8))
      #expect(record.createdAtMs == timing.nowMs && record.updatedAtMs == timing.nowMs)
      #expect(record.expiresAtMs == timing.nowMs + 60_000 && record.resumes == 0 && record.error == nil)
      #expect(record.ledger == RunLedger() && record.artifacts.isEmpty && record.approval == nil)
      #expect(try await s.store.acquireLease(workflowID: "r", ttl: .seconds(10)) == .held, "created with its lease")

      let before = try await s.snapshot("r")
      // The same operation again (its reply was lost): the first answer.
      #expect(try await s.store.create(s.newRun("r", timing: timing)) == first)
      // Another creation under that id: refused, nothing written.
      #expect(try await s.store.create(s.newRun("r", timing: s.timing())) == .exists)
      #expect(try await s.snapshot("r") == before)
      #expect(try await s.store.load(workflowID: "nobody", includeArtifacts: false) == nil)
    }
  }

  @Test(arguments: StoreKind.allCases)
  func writesWithAStaleFenceOrAnotherStepAreRefusedWhole(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let first = try await s.create("r")
      try await s.store.releaseLease(workflowID: "r", fence: first, runEnded: false)
      let second = try await s.acquire("r")
      #expect(second > first)
      let before = try await s.snapshot("r")

      await expectStoreError(.fenced) { try await s.store.commitStep(s.commit("r", fence: first, cursor: 0)) }
      await expectStoreError(.conflict) { try await s.store.commitStep(s.commit("r", fence: second, cursor: 1)) }
      let begun = StepProgress().beginningAttempt(at: s.nowMs)
      await expectStoreError(.fenced) {
        try await s.store.beginAttempt(
          AttemptBegin(workflowID: "r", fence: first, cursor: 0, stepName: "a", step: begun, resume: nil, timing: s.timing()))
      }
      await expectStoreError(.conflict) {
        try await s.store.beginAttempt(
          AttemptBegin(workflowID: "r", fence: second, cursor: 2, stepName: "c", step: begun, resume: nil, timing: s.timing()))
      }
      await expectStoreError(.fenced) {
        try await s.store.recordFailure(WriteSafetyTests.failure("r", fence: first, timing: s.timing()))
      }
      await expectStoreError(.conflict) {
        try await s.store.recordWait(
          StepWait(workflowID: "r", fence: second, cursor: 1, stepName: "b", step: StepProgress(status: .waiting), timing: s.timing()))
      }
      await expectStoreError(.notFound) { try await s.store.commitStep(s.commit("ghost", fence: first, cursor: 0)) }
      #expect(try await s.snapshot("r") == before)

      try await s.store.commitStep(s.commit("r", fence: second, cursor: 0))
      // The same commit again as a new write: the run has moved on.
      await expectStoreError(.conflict) { try await s.store.commitStep(s.commit("r", fence: second, cursor: 0)) }
      let record = try #require(try await s.store.load(workflowID: "r", includeArtifacts: true))
      #expect(record.cursor == 1 && record.status == .running)
      #expect(record.steps.map(\.status) == [.completed, .running, .pending])
      #expect(record.ledger == RunLedger(spentMicros: 100_000, inputTokens: 10, outputTokens: 5))
      #expect(record.artifacts == ["a": Array("{\"x\":1}".utf8)])

      try await s.store.commitStep(s.commit("r", fence: second, cursor: 1))
      try await s.store.commitStep(s.commit("r", fence: second, cursor: 2))
      let done = try #require(try await s.store.load(workflowID: "r", includeArtifacts: true))
      #expect(done.status == .completed && done.cursor == 3 && done.artifacts.count == 3)
      await expectStoreError(.conflict) { try await s.store.commitStep(s.commit("r", fence: second, cursor: 3 - 1)) }
    }
  }

  @Test(arguments: StoreKind.allCases)
  func aRepeatedOperationIDReturnsTheFirstReplyAndWritesNothing(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let fence = try await s.create("r")
      let failed = s.timing()
      try await s.store.recordFailure(WriteSafetyTests.failure("r", fence: fence, timing: failed))
      let afterFailure = try await s.snapshot("r")
      try await s.store.recordFailure(WriteSafetyTests.failure("r", fence: fence, timing: failed))
      #expect(try await s.snapshot("r") == afterFailure)
      #expect(afterFailure.record?.ledger == RunLedger(spentMicros: 70_000, inputTokens: 7, outputTokens: 3))

      let commit = s.commit("r", fence: fence, cursor: 0)
      try await s.store.commitStep(commit)
      let afterCommit = try await s.snapshot("r")
      try await s.store.commitStep(commit)  // answered OK, not CONFLICT
      #expect(try await s.snapshot("r") == afterCommit)
      #expect(afterCommit.record?.cursor == 1 && afterCommit.record?.ledger.spentMicros == 170_000)

      let cancel = RunCancel(workflowID: "r", reason: "stop", timing: s.timing())
      #expect(try await s.store.cancel(cancel) == .cancelled(previous: .running))
      let afterCancel = try await s.snapshot("r")
      #expect(try await s.store.cancel(cancel) == .cancelled(previous: .running))
      #expect(try await s.snapshot("r") == afterCancel)
      #expect(try await s.store.cancel(RunCancel(workflowID: "r", reason: "again", timing: s.timing())) == .ended(.cancelled))
    }
  }

  @Test(arguments: StoreKind.allCases)
  func failuresAndWaitsRecordTheStepAndAResumeTakesAFailedRunBack(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let fence = try await s.create("r")
      let waiting = StepProgress(status: .waiting, waitReason: "circuit open", nextAttemptAtMs: s.nowMs + 3_000)
      try await s.store.recordWait(
        StepWait(workflowID: "r", fence: fence, cursor: 0, stepName: "a", step: waiting, timing: s.timing()))
      var record = try #require(try await s.store.load(workflowID: "r", includeArtifacts: false))
      #expect(record.status == .running && record.steps[0] == waiting && record.ledger == RunLedger())
      let waited = try #require(try await s.store.events(workflowID: "r", after: "0-0", limit: 10)?.events.last?.event)
      #expect(waited.type == "step_waiting" && waited.message == "circuit open")
      #expect(waited.nextAttemptAtMs == waiting.nextAttemptAtMs && waited.status == .running)

      var failed = StepProgress(status: .failed, attempts: 1, lastError: "boom", lastErrorClass: .nonRetryable)
      failed.usage = StepUsage(costMicros: 70_000)
      try await s.store.recordFailure(
        AttemptFailure(
          workflowID: "r", fence: fence, cursor: 0, stepName: "a", step: failed, usage: StepUsage(costMicros: 70_000),
          runError: "step 'a' failed: boom", timing: s.timing()))
      record = try #require(try await s.store.load(workflowID: "r", includeArtifacts: false))
      #expect(record.status == .failed && record.error == "step 'a' failed: boom")
      #expect(record.steps[0] == failed && record.ledger.spentMicros == 70_000)
      #expect(try await s.eventTypes("r") == ["run_started", "step_waiting", "run_failed"])

      // A failed run takes no commit, and no attempt but a resume's.
      await expectStoreError(.conflict) { try await s.store.commitStep(s.commit("r", fence: fence, cursor: 0)) }
      let before = try await s.snapshot("r")
      let retry = failed.beginningAttempt(at: s.nowMs)
      await expectStoreError(.conflict) {
        try await s.store.beginAttempt(
          AttemptBegin(workflowID: "r", fence: fence, cursor: 0, stepName: "a", step: retry, resume: nil, timing: s.timing()))
      }
      // Refused before anything is written (the Redis script once wrote the step's record first).
      #expect(try await s.snapshot("r") == before)

      let resume = AttemptBegin(
        workflowID: "r", fence: fence, cursor: 0, stepName: "a", step: retry,
        resume: ResumeMark(savedMicros: 5_000, updatedSteps: [:]), timing: s.timing())
      try await s.store.beginAttempt(resume)
      try await s.store.beginAttempt(resume)  // repeated: one resume
      record = try #require(try await s.store.load(workflowID: "r", includeArtifacts: false))
      #expect(record.status == .running && record.error == nil && record.resumes == 1)
      #expect(record.steps[0] == retry && record.ledger.savedByResumeMicros == 5_000)
      #expect(try await s.eventTypes("r").last == "run_resumed")
    }
  }

  @Test(arguments: StoreKind.allCases)
  func theLedgerSumsTheFourTokenCountsOverStepsAndAttempts(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let fence = try await s.create("r")
      let cachedRead = StepUsage(inputTokens: 200, outputTokens: 40, cachedInputTokens: 1_000, costMicros: 3_000)
      let cacheWrite = StepUsage(inputTokens: 10, outputTokens: 5, cacheWriteTokens: 1_200, costMicros: 4_000)
      // Step a: a failed attempt that read the cache, then a commit that read it again.
      let failed = StepProgress(status: .retrying, attempts: 1, usage: cachedRead, lastError: "x", lastErrorClass: .retryable)
      try await s.store.recordFailure(
        AttemptFailure(
          workflowID: "r", fence: fence, cursor: 0, stepName: "a", step: failed, usage: cachedRead, runError: nil,
          timing: s.timing()))
      var commit = s.commit("r", fence: fence, cursor: 0)
      commit.usage = cachedRead
      commit.step.usage = cachedRead + cachedRead
      try await s.store.commitStep(commit)
      // Step b: a commit that wrote the cache.
      commit = s.commit("r", fence: fence, cursor: 1)
      commit.usage = cacheWrite
      commit.step.usage = cacheWrite
      try await s.store.commitStep(commit)

      let expected = RunLedger(
        spentMicros: 10_000, inputTokens: 410, outputTokens: 85, cachedInputTokens: 2_000, cacheWriteTokens: 1_200)
      let record = try #require(try await s.store.load(workflowID: "r", includeArtifacts: false))
      #expect(record.ledger == expected)
      #expect(record.steps[0].usage == cachedRead + cachedRead && record.steps[1].usage == cacheWrite)
      let listed = try await s.store.listRuns(RunQuery()).runs
      #expect(listed.map(\.ledger) == [expected])
    }
  }

  @Test(arguments: StoreKind.allCases)
  func aLeaseIsExclusiveRenewableAndLapsesAfterItsTTL(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let fence = try await s.create("r", ttl: 30_000)
      #expect(try await s.store.acquireLease(workflowID: "r", ttl: .seconds(10)) == .held)
      #expect(try await s.store.acquireLease(workflowID: "ghost", ttl: .seconds(10)) == .notFound)
      #expect(try await s.store.renewLease(workflowID: "r", fence: fence + 1, ttl: .seconds(10), runTTL: .seconds(600)) == false)
      #expect(try await s.store.renewLease(workflowID: "r", fence: fence, ttl: .seconds(10), runTTL: .seconds(600)))
      // The renewal keeps the whole run alive for the run TTL.
      let record = try #require(try await s.store.load(workflowID: "r", includeArtifacts: false))
      #expect(record.expiresAtMs >= s.nowMs + 590_000)
      // A stale token's release changes nothing; the holder's frees the lease.
      try await s.store.releaseLease(workflowID: "r", fence: fence - 1, runEnded: false)
      #expect(try await s.store.acquireLease(workflowID: "r", ttl: .seconds(10)) == .held)
      try await s.store.releaseLease(workflowID: "r", fence: fence, runEnded: false)
      #expect(try await s.store.acquireLease(workflowID: "r", ttl: .milliseconds(50)) == .acquired(fence: fence + 1))
      #expect(try await s.store.renewLease(workflowID: "r", fence: fence, ttl: .seconds(10), runTTL: .seconds(60)) == false)
      // Not renewed, the lease lapses after its TTL; the next taker gets a new token.
      try await s.afterTime(.milliseconds(60)) {
        try await s.store.acquireLease(workflowID: "r", ttl: .seconds(10)) == .acquired(fence: fence + 2)
      }
    }
  }

  @Test(arguments: StoreKind.allCases)
  func aRunExpiresWholeAfterItsTTLAndItsIdStartsAboveItsOldTokens(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let fence = try await s.create("r", ttl: 100)
      try await s.afterTime(.milliseconds(110)) {
        try await s.store.load(workflowID: "r", includeArtifacts: false) == nil
      }
      #expect(try await s.store.events(workflowID: "r", after: "0-0", limit: 10) == nil)
      #expect(try await s.store.lastEventPosition(workflowID: "r") == "0-0")
      #expect(try await s.store.acquireLease(workflowID: "r", ttl: .seconds(10)) == .notFound)
      #expect(try await s.store.cancel(RunCancel(workflowID: "r", reason: "x", timing: s.timing())) == .notFound)
      let again = try await s.create("r")
      #expect(again > fence, "a zombie runner of the old run can never match")
      await expectStoreError(.fenced) {
        try await s.store.recordFailure(WriteSafetyTests.failure("r", fence: fence, timing: s.timing()))
      }
      #expect(try await s.eventTypes("r") == ["run_started"], "the old run's events went with it")
    }
  }

  @Test(arguments: StoreKind.allCases)
  func aRunFallsDueForRecoveryWhenItsLeaseMayHaveLapsedAndIsClaimedOnce(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      try await s.create("live", lease: 30_000)
      #expect(try await s.dueIDs().isEmpty, "nothing is due while leases live")
      // Its server died a minute ago; its lease (1 ms) has lapsed.
      let dying = try await s.create("dying", ago: 60_000, lease: 1)
      var due: [RecoveryCandidate] = []
      try await s.afterTime(.milliseconds(2)) {
        due = try await s.store.recoveryCandidates(limit: 10)
        return due.map(\.workflowID) == ["dying"]
      }
      let claim = try await s.store.claimForRecovery(due[0], lease: .seconds(10), failedRetention: .seconds(60))
      #expect(claim == .acquired(fence: dying + 1))
      // A second server's claim finds the lease held, and postpones the check.
      #expect(try await s.store.claimForRecovery(due[0], lease: .seconds(10), failedRetention: .seconds(60)) == .held)
      #expect(try await s.dueIDs().isEmpty)
      // A graceful stop gives the lease up: due at once. The end of a run unindexes it.
      try await s.store.releaseLease(workflowID: "dying", fence: dying + 1, runEnded: false)
      #expect(try await s.dueIDs() == ["dying"])
      try await s.store.releaseLease(workflowID: "dying", fence: dying + 1, runEnded: true)
      #expect(try await s.dueIDs().isEmpty)
      // An id no server could have written is dropped, not used.
      let bogus = RecoveryCandidate(workflowID: "no{braces}", dueAtMs: 0)
      #expect(try await s.store.claimForRecovery(bogus, lease: .seconds(10), failedRetention: .seconds(60)) == .gone)
    }
  }

  @Test(arguments: StoreKind.allCases)
  func endedAndExpiredRunsLeaveTheRecoveryIndexAndARewrittenEntryStays(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let done = try await s.create("done", ago: 60_000, lease: 1)
      for cursor in 0..<3 { try await s.store.commitStep(s.commit("done", fence: done, cursor: cursor)) }
      try await s.create("expired", ago: 60_000, ttl: 50, lease: 1)
      let failed = try await s.create("failed", ago: 60_000, lease: 1)
      try await s.store.recordFailure(
        WriteSafetyTests.failure("failed", fence: failed, timing: s.timing(lease: 1), runError: "boom"))
      var due: [RecoveryCandidate] = []
      try await s.afterTime(.milliseconds(60)) {
        due = try await s.store.recoveryCandidates(limit: 10)
        return Set(due.map(\.workflowID)) == ["done", "expired", "failed"]
      }
      // Meanwhile a resume on another server takes the failed run and indexes it
      // again: the candidate read before is stale.
      let fence = try await s.acquire("failed")
      try await s.store.beginAttempt(
        AttemptBegin(
          workflowID: "failed", fence: fence, cursor: 0, stepName: "a", step: StepProgress().beginningAttempt(at: s.nowMs),
          resume: ResumeMark(savedMicros: 0, updatedSteps: [:]), timing: s.timing()))
      for candidate in due {
        let claim = try await s.store.claimForRecovery(candidate, lease: .seconds(10), failedRetention: .seconds(60))
        let expected: RecoveryClaim =
          switch candidate.workflowID {
          case "done": .ended(.completed)
          case "expired": .gone
          default: .held
          }
        #expect(claim == expected, "\(candidate.workflowID)")
      }
      // Ended: no lease taken (the token did not move).
      #expect(try await s.store.load(workflowID: "done", includeArtifacts: false)?.fence == done)
      // Only the resumed run is still indexed (a release moves only an entry that exists).
      for id in ["done", "expired", "failed"] {
        try await s.store.releaseLease(workflowID: id, fence: id == "failed" ? fence : done, runEnded: false)
      }
      #expect(try await s.dueIDs() == ["failed"])
    }
  }

  @Test(arguments: StoreKind.allCases)
  func exactlyOneAnswerToAnApprovalWins(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let fence = try await s.create("r")
      let approval = PendingApproval(
        stepName: "a", cursor: 0, token: "tok", kind: .before, requestedAtMs: s.nowMs, deadlineMs: s.nowMs + 60_000)
      await expectStoreError(.fenced) {
        try await s.store.requestApproval(
          ApprovalRequest(
            workflowID: "r", fence: fence + 7, approval: approval, step: StepProgress(), usage: StepUsage(), timing: s.timing()))
      }
      try await s.store.requestApproval(
        ApprovalRequest(
          workflowID: "r", fence: fence, approval: approval, step: StepProgress(status: .pending),
          usage: StepUsage(costMicros: 5), timing: s.timing(ttl: 600_000)))
      let waiting = try #require(try await s.store.load(workflowID: "r", includeArtifacts: false))
      #expect(waiting.status == .awaitingApproval && waiting.approval == approval && waiting.ledger.spentMicros == 5)
      #expect(try await s.eventTypes("r").last == "approval_requested")
      #expect(try await s.dueIDs().isEmpty, "due at the deadline")
      #expect(
        try await s.store.answerApproval(
          ApprovalAnswer(workflowID: "ghost", token: "tok", approve: true, note: "", timing: s.timing()), lease: .seconds(10))
          == .notFound)
      let wrong = try await s.store.answerApproval(
        ApprovalAnswer(workflowID: "r", token: "other", approve: true, note: "", timing: s.timing()), lease: .seconds(10))
      guard case .refused = wrong else { throw StoreError(.conflict, "a wrong token was not refused: \(wrong)") }

      // Two people answer at once: one wins, the other is refused.
      let answers = [true, false].map { approve in
        ApprovalAnswer(workflowID: "r", token: "tok", approve: approve, note: approve ? "" : "no", timing: s.timing())
      }
      let outcomes = try await withThrowingTaskGroup(of: ApprovalOutcome.self, returning: [ApprovalOutcome].self) { group in
        for answer in answers { group.addTask { try await s.store.answerApproval(answer, lease: .seconds(10)) } }
        return try await group.reduce(into: []) { $0.append($1) }
      }
      let refused = outcomes.filter { if case .refused = $0 { true } else { false } }
      #expect(refused.count == 1, "\(outcomes)")
      let record = try #require(try await s.store.load(workflowID: "r", includeArtifacts: false))
      #expect(record.approval == nil)
      if outcomes.contains(.rejected) {
        #expect(record.status == .failed && record.error == "a person rejected step a: no")
        #expect(try await s.eventTypes("r").last == "step_rejected")
      } else {
        #expect(outcomes.contains(.approved(fence: fence + 1, approval: approval)))
        #expect(record.status == .running && record.fence == fence + 1 && record.approvedCursor == 0)
        #expect(try await s.eventTypes("r").last == "step_approved")
        #expect(try await s.store.acquireLease(workflowID: "r", ttl: .seconds(10)) == .held, "the approver holds the lease")
      }
      // Either answer repeated (a lost reply) gets the first reply again.
      for answer in answers {
        let again = try await s.store.answerApproval(answer, lease: .seconds(10))
        #expect(outcomes.contains(again), "\(again)")
      }
    }
  }

  @Test(arguments: StoreKind.allCases)
  func aHeldOutputIsReturnedWithTheApprovalAndGoneOnceCommitted(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let fence = try await s.create("r")
      let held = PendingApproval.HeldOutput(
        artifact: Array("\"draft\"".utf8), history: [HistoryEntry(role: "assistant", content: "hi")],
        step: StepProgress(status: .completed, attempts: 1))
      let approval = PendingApproval(
        stepName: "a", cursor: 0, token: "tok", kind: .lowConfidence, confidence: 0.25, threshold: 0.5,
        requestedAtMs: s.nowMs, deadlineMs: s.nowMs + 60_000, held: held)
      try await s.store.requestApproval(
        ApprovalRequest(
          workflowID: "r", fence: fence, approval: approval, step: StepProgress(status: .running, attempts: 1),
          usage: StepUsage(), timing: s.timing()))
      #expect(try await s.store.load(workflowID: "r", includeArtifacts: false)?.approval == approval)
      let message = try await s.store.events(workflowID: "r", after: "0-0", limit: 10)?.events.last?.event.message
      #expect(message == "confidence 0.25 is below 0.5: approval needed to keep the output")
      let answer = ApprovalAnswer(workflowID: "r", token: "tok", approve: true, note: "", timing: s.timing())
      let outcome = try await s.store.answerApproval(answer, lease: .seconds(10))
      #expect(outcome == .approved(fence: fence + 1, approval: approval))
      #expect(try await s.store.answerApproval(answer, lease: .seconds(10)) == outcome, "the held artifact again")
      #expect(try await s.store.load(workflowID: "r", includeArtifacts: false)?.approvedCursor == nil, "asked after it ran")
      // Committed: the held output is gone, and the answer is no longer the last write remembered.
      try await s.store.commitStep(s.commit("r", fence: fence + 1, cursor: 0, artifact: "\"draft\""))
      let record = try #require(try await s.store.load(workflowID: "r", includeArtifacts: true))
      #expect(record.approval == nil && record.artifacts["a"] == Array("\"draft\"".utf8))
      let late = try await s.store.answerApproval(answer, lease: .seconds(10))
      guard case .refused = late else { throw StoreError(.conflict, "a spent token was not refused: \(late)") }
    }
  }

  @Test(arguments: StoreKind.allCases)
  func anUnansweredApprovalFailsTheRunAtItsDeadline(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      for (id, deadline) in [("late", s.nowMs - 1), ("early", s.nowMs + 60_000)] {
        let fence = try await s.create(id)
        let approval = PendingApproval(
          stepName: "b", cursor: 0, token: "tok", kind: .before, requestedAtMs: s.nowMs - 10_000, deadlineMs: deadline)
        try await s.store.requestApproval(
          ApprovalRequest(
            workflowID: id, fence: fence, approval: approval, step: StepProgress(), usage: StepUsage(),
            timing: s.timing(ttl: 600_000)))
      }
      let due = try await s.store.recoveryCandidates(limit: 10)
      #expect(due.map(\.workflowID) == ["late"])
      let claim = try await s.store.claimForRecovery(due[0], lease: .seconds(10), failedRetention: .seconds(5))
      #expect(claim == .ended(.failed))
      let record = try #require(try await s.store.load(workflowID: "late", includeArtifacts: false))
      #expect(record.status == .failed && record.approval == nil)
      #expect(record.error == "no answer to the approval of step b before its deadline")
      #expect(record.expiresAtMs <= s.nowMs + 5_000, "kept for the failed-run retention")
      let event = try #require(try await s.store.events(workflowID: "late", after: "0-0", limit: 10)?.events.last?.event)
      #expect(event.type == "run_approval_expired" && event.status == .failed && event.step == "b")
      // Before its deadline the run is held, checked again then.
      let early = RecoveryCandidate(workflowID: "early", dueAtMs: s.nowMs)
      #expect(try await s.store.claimForRecovery(early, lease: .seconds(10), failedRetention: .seconds(5)) == .held)
      #expect(try await s.store.load(workflowID: "early", includeArtifacts: false)?.status == .awaitingApproval)
      #expect(try await s.dueIDs().isEmpty)
    }
  }

  @Test(arguments: StoreKind.allCases)
  func aCancelStopsTheRunnerAndEndsTheRunOnce(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let fence = try await s.create("r", ago: 60_000, lease: 1)
      let cancelled = try await s.store.cancel(RunCancel(workflowID: "r", reason: "operator", timing: s.timing(ttl: 60_000)))
      #expect(cancelled == .cancelled(previous: .running))
      let record = try #require(try await s.store.load(workflowID: "r", includeArtifacts: false))
      #expect(record.status == .cancelled && record.error == "operator" && record.fence == fence + 1)
      #expect(record.expiresAtMs <= s.nowMs + 60_000, "kept for the cancelled-run retention")
      let event = try #require(try await s.store.events(workflowID: "r", after: "0-0", limit: 10)?.events.last?.event)
      #expect(event.type == "run_cancelled" && event.message == "operator" && event.status == .cancelled)
      // The runner still at work can write nothing more, nor renew; nobody recovers the run.
      await expectStoreError(.fenced) { try await s.store.commitStep(s.commit("r", fence: fence, cursor: 0)) }
      #expect(try await s.store.renewLease(workflowID: "r", fence: fence, ttl: .seconds(10), runTTL: .seconds(60)) == false)
      #expect(try await s.dueIDs().isEmpty)
      #expect(try await s.store.cancel(RunCancel(workflowID: "r", reason: "x", timing: s.timing())) == .ended(.cancelled))

      // A failed run can be cancelled; a completed one has ended.
      let failed = try await s.create("f")
      try await s.store.recordFailure(WriteSafetyTests.failure("f", fence: failed, timing: s.timing(), runError: "boom"))
      #expect(try await s.store.cancel(RunCancel(workflowID: "f", reason: "x", timing: s.timing())) == .cancelled(previous: .failed))
      let done = try await s.create("d")
      for cursor in 0..<3 { try await s.store.commitStep(s.commit("d", fence: done, cursor: cursor)) }
      #expect(try await s.store.cancel(RunCancel(workflowID: "d", reason: "x", timing: s.timing())) == .ended(.completed))
    }
  }

  @Test(arguments: StoreKind.allCases)
  func aRerunStartsAnEndedRunAgainFromACommittedStep(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let first = try await s.create("r")
      for cursor in 0..<3 { try await s.store.commitStep(s.commit("r", fence: first, cursor: cursor)) }
      try await s.store.releaseLease(workflowID: "r", fence: first, runEnded: true)
      let fence = try await s.acquire("r")
      let begun = StepProgress(status: .completed, attempts: 1).beginningAttempt(at: s.nowMs)
      let rerun = RerunBegin(
        workflowID: "r", fence: fence, cursor: 1, discarded: ["b", "c"],
        steps: ["a": StepProgress(status: .completed, attempts: 1, savedMicros: 100_000), "b": begun, "c": StepProgress()],
        savedMicros: 100_000, timing: s.timing())
      var stale = rerun
      stale.fence = first
      await expectStoreError(.fenced) { try await s.store.rerun(stale) }
      try await s.store.rerun(rerun)
      let record = try #require(try await s.store.load(workflowID: "r", includeArtifacts: true))
      #expect(record.status == .running && record.cursor == 1 && record.resumes == 1)
      #expect(record.steps.map(\.status) == [.completed, .running, .pending] && record.steps[1] == begun)
      #expect(record.artifacts.keys.sorted() == ["a"] && record.ledger.savedByResumeMicros == 100_000)
      let event = try #require(try await s.store.events(workflowID: "r", after: "0-0", limit: 100)?.events.last?.event)
      #expect(event.type == "run_rerun" && event.step == "b" && event.attempt == 2 && event.status == .running)
      #expect(try await s.store.acquireLease(workflowID: "r", ttl: .seconds(10)) == .held)
      // Only an ended run, and never past its first uncommitted step.
      var again = rerun
      again.timing = s.timing()
      await expectStoreError(.conflict) { try await s.store.rerun(again) }
      try await s.store.recordFailure(WriteSafetyTests.failure("r", fence: fence, timing: s.timing(), runError: "boom").at(cursor: 1, "b"))
      again.cursor = 2
      again.timing = s.timing()
      await expectStoreError(.conflict) { try await s.store.rerun(again) }
    }
  }

  @Test(arguments: StoreKind.allCases)
  func runsAreListedNewestFirstInPagesAndByStatus(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      // Created one millisecond apart, r0 first; r1 and r3 cancelled.
      for index in 0..<5 { try await s.create("r\(index)", ago: Int64(10 - index)) }
      for id in ["r1", "r3"] {
        _ = try await s.store.cancel(RunCancel(workflowID: id, reason: "x", timing: s.timing()))
      }
      var seen: [String] = []
      var cursor: String?
      var pages = 0
      repeat {
        let page = try await s.store.listRuns(RunQuery(limit: 2, cursor: cursor))
        #expect(page.runs.count <= 2)
        seen += page.runs.map(\.workflowID)
        cursor = page.nextCursor
        pages += 1
      } while cursor != nil && pages < 10
      #expect(seen == ["r4", "r3", "r2", "r1", "r0"])
      let cancelled = try await s.store.listRuns(RunQuery(status: .cancelled))
      #expect(cancelled.runs.map(\.workflowID) == ["r3", "r1"] && cancelled.nextCursor == nil)
      let entry = try #require(cancelled.runs.first)
      #expect(entry.workflowName == "w" && entry.stepCount == 3 && entry.currentStepName == "a" && entry.error == "x")
      #expect(try await s.store.listRuns(RunQuery(workflow: "other")).runs.isEmpty)
      await expectStoreError(.corrupt) { _ = try await s.store.listRuns(RunQuery(cursor: "nonsense")) }

      // Expired runs leave the list, in bounded passes.
      try await s.create("short", ttl: 50)
      try await s.afterTime(.milliseconds(60)) {
        try await s.store.load(workflowID: "short", includeArtifacts: false) == nil
      }
      var position = 0
      var removed = 0
      var passes = 0
      repeat {
        let pass = try await s.store.trimRunList(from: position, limit: 2)
        position = pass.next
        removed += pass.removed
        passes += 1
      } while position != 0 && passes < 20
      #expect(removed == 1 && passes == 4, "at most 2 entries a pass")
      #expect(try await s.store.listRuns(RunQuery()).runs.count == 5)
    }
  }

  @Test(arguments: StoreKind.allCases)
  func everyWriteAppendsOneEventReadAfterAPosition(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      #expect(try await s.store.lastEventPosition(workflowID: "r") == "0-0")
      let fence = try await s.create("r")
      let start = try await s.store.lastEventPosition(workflowID: "r")
      try await s.store.recordFailure(WriteSafetyTests.failure("r", fence: fence, timing: s.timing()))
      try await s.store.beginAttempt(
        AttemptBegin(
          workflowID: "r", fence: fence, cursor: 0, stepName: "a", step: StepProgress().beginningAttempt(at: s.nowMs),
          resume: nil, timing: s.timing()))
      try await s.store.commitStep(s.commit("r", fence: fence, cursor: 0))
      let batch = try #require(try await s.store.events(workflowID: "r", after: start, limit: 2))
      #expect(batch.status == .running)
      #expect(batch.events.map(\.event.type) == ["attempt_failed", "attempt_started"])
      let failed = batch.events[0].event
      #expect(failed.step == "a" && failed.attempt == 1 && failed.status == .running)
      let rest = try #require(try await s.store.events(workflowID: "r", after: batch.events[1].position, limit: 10))
      #expect(rest.events.map(\.event.type) == ["step_committed"])
      #expect(rest.events.last?.position == (try await s.store.lastEventPosition(workflowID: "r")))
      #expect(try await s.store.events(workflowID: "r", after: rest.events[0].position, limit: 10)?.events.isEmpty == true)
      #expect(try await s.store.events(workflowID: "ghost", after: "0-0", limit: 10) == nil)
    }
  }

  @Test(arguments: StoreKind.allCases)
  func historyIsAppendedCappedAndReadNewestLast(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let fence = try await s.create("r")
      var commit = s.commit("r", fence: fence, cursor: 0)
      commit.history = ["q1", "a1", "q2"].map { HistoryEntry(role: "user", content: $0) }
      commit.maxHistoryMessages = 2
      try await s.store.commitStep(commit)
      let record = try #require(try await s.store.load(workflowID: "r", includeArtifacts: false, includeHistory: true))
      #expect(record.history.map(\.content) == ["a1", "q2"] && record.historyLength == 2)
      #expect(try await s.store.load(workflowID: "r", includeArtifacts: false)?.history.isEmpty == true)
      #expect(try await s.store.history(workflowID: "r", newest: 1).map(\.content) == ["q2"])
      #expect(try await s.store.history(workflowID: "r", newest: nil).map(\.content) == ["a1", "q2"])
      #expect(try await s.store.artifacts(workflowID: "r", steps: ["a", "b"]) == ["a": Array("{\"x\":1}".utf8)])
    }
  }

  @Test(arguments: StoreKind.allCases)
  func aRegisteredWorkflowGetsANewVersionOnlyWhenItChanges(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let definition = RedisStateStoreTests.definition
      #expect(try await s.store.registeredWorkflow(named: "w") == nil)
      let first = try await s.store.registerWorkflow(definition)
      #expect(first.version == 1 && first.changed)
      let same = try await s.store.registerWorkflow(definition)
      #expect(same.version == 1 && !same.changed, "the same content again changes nothing")
      var changed = definition
      changed.steps.removeLast()
      let second = try await s.store.registerWorkflow(changed)
      #expect(second.version == 2 && second.changed)
      #expect(try await s.store.registeredWorkflow(named: "w") == changed)
    }
  }
}

extension AttemptFailure {
  /// This failure of step `name`, at `cursor`.
  func at(cursor: Int, _ name: String) -> AttemptFailure {
    var copy = self
    copy.cursor = cursor
    copy.stepName = name
    return copy
  }
}
