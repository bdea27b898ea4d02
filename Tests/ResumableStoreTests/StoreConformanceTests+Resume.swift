import ResumableCore
import ResumableRedis
import ResumableStore
import ResumableTestSupport
import Testing

/// `StateStore.resume`, the one-step resume, against both stores: what it
/// writes is what the general path (lease, read, `beginAttempt`) writes, and
/// everything else it answers writes nothing.
extension StoreConformanceTests {
  /// Run `id` with step a committed and step b FAILED with a wait reason
  /// (a record that exercises every member the resume rewrites).
  static func failedRun(_ s: StoreUnderTest, _ id: String, at now: Int64) async throws {
    func at() -> WriteTiming { WriteTiming(nowMs: now, ttlMs: 60_000, leaseMs: 10_000) }
    guard case .created(let fence) = try await s.store.create(s.newRun(id, timing: at())) else {
      throw StoreError(.conflict, "run '\(id)' was not created")
    }
    try await s.store.commitStep(RedisStateStoreTests.commit(id, fence: fence, cursor: 0, timing: at()))
    var failed = StepProgress().beginningAttempt(at: now)
    failed.status = .failed
    failed.lastError = "boom \"quoted\" \\ /"
    failed.lastErrorClass = .retryable
    failed.finishedAtMs = now
    failed.waitReason = "backoff \"x\" \\"
    failed.nextAttemptAtMs = now + 5
    failed.given = GivenContext(inputs: [.init(name: "a", bytes: 7)], historyMessages: 0, historyBytes: 0)
    try await s.store.recordFailure(
      AttemptFailure(
        workflowID: id, fence: fence, cursor: 1, stepName: "b", step: failed, usage: StepUsage(costMicros: 70_000),
        runError: "step 'b' failed: boom", timing: at()))
    try await s.store.releaseLease(workflowID: id, fence: fence, runEnded: true)
  }

  static let plugins: Set<String> = ["simulate"]

  @Test(arguments: StoreKind.allCases)
  func aOneStepResumeWritesWhatTheGeneralPathWrites(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let timing = s.timing()
      try await Self.failedRun(s, "one", at: timing.nowMs)
      try await Self.failedRun(s, "two", at: timing.nowMs)
      let outcome = try await s.store.resume(ResumeRequest(workflowID: "one", plugins: Self.plugins, timing: timing))
      guard case .resumed(let record, let fence, let saved, let lapsed) = outcome else {
        Issue.record("not resumed: \(outcome)")
        return
      }
      #expect(saved == 100_000 && !lapsed && record.input == Array("{}".utf8))
      #expect(try await s.store.acquireLease(workflowID: "one", ttl: .seconds(10)) == .held)

      // The general path on the twin run, at the same time.
      let twinFence = try await s.acquire("two")
      var twin = try #require(try await s.store.load(workflowID: "two", includeArtifacts: false))
      let begin = twin.resume(fence: twinFence, timing: WriteTiming(nowMs: timing.nowMs, ttlMs: timing.ttlMs, leaseMs: timing.leaseMs))
      try await s.store.beginAttempt(begin)
      #expect(begin.resume?.savedMicros == saved)

      var one = try #require(try await s.store.load(workflowID: "one", includeArtifacts: false))
      var two = try #require(try await s.store.load(workflowID: "two", includeArtifacts: false))
      #expect(one.fence == fence && two.fence == twinFence)
      #expect(one.steps[1].waitReason == nil && one.steps[1].attempts == 2 && one.steps[1].status == .running)
      #expect(one.steps[0].savedMicros == 100_000 && one.ledger.savedByResumeMicros == 100_000)
      #expect(one.resumes == 1 && one.error == nil && one.status == .running)
      // The record the script answered is the run as stored.
      #expect(record == one)
      twin.input = two.input
      #expect(twin == two, "the engine's copy follows the general path's write")
      one.workflowID = "two"
      one.fence = twinFence
      #expect(one == two)
      #expect(try await s.eventTypes("one") == s.eventTypes("two"))
      if kind == .redis, let redis = s.redis {
        // Byte for byte: the records the script rewrote in Lua are the ones Swift encodes.
        let prefix = s.keyPrefix
        let ones = try await redis.send(["HGETALL", RedisArgument("\(prefix):{one}:steps")])
        let twos = try await redis.send(["HGETALL", RedisArgument("\(prefix):{two}:steps")])
        #expect(Self.flatHash(ones) == Self.flatHash(twos) && !Self.flatHash(ones).isEmpty)
      }
    }
  }

  static func flatHash(_ reply: RESPValue) -> [String: [UInt8]] {
    let items = reply.array ?? []
    var result: [String: [UInt8]] = [:]
    for pair in stride(from: 0, to: items.count - 1, by: 2) {
      result[items[pair].string ?? ""] = items[pair + 1].bytes
    }
    return result
  }

  @Test(arguments: StoreKind.allCases)
  func twoRacingResumesExactlyOneWinsAndARepeatIsAnsweredAsTheFirst(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      try await Self.failedRun(s, "r", at: s.nowMs)
      let first = s.timing()
      async let a = s.store.resume(ResumeRequest(workflowID: "r", plugins: Self.plugins, timing: first))
      async let b = s.store.resume(ResumeRequest(workflowID: "r", plugins: Self.plugins, timing: s.timing()))
      let outcomes = try await [a, b]
      let won = outcomes.filter { if case .resumed = $0 { true } else { false } }
      let held = outcomes.filter { if case .held = $0 { true } else { false } }
      #expect(won.count == 1 && held.count == 1, "\(outcomes)")
      let after = try await s.snapshot("r")
      #expect(after.record?.resumes == 1 && after.record?.steps[1].attempts == 2)
      // The first operation again (its reply was lost): its outcome, nothing written.
      let again = try await s.store.resume(ResumeRequest(workflowID: "r", plugins: Self.plugins, timing: first))
      if case .resumed(_, let fence, _, _) = outcomes[0] {
        guard case .resumed(_, fence, 100_000, false) = again else {
          Issue.record("a repeat answered \(again)")
          return
        }
      }
      #expect(try await s.snapshot("r") == after)
    }
  }

  @Test(arguments: StoreKind.allCases)
  func aResumeThatCannotGoOnWritesNothing(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      #expect(try await s.store.resume(ResumeRequest(workflowID: "ghost", plugins: Self.plugins, timing: s.timing())) == .notFound)

      try await Self.failedRun(s, "r", at: s.nowMs)
      let missing = try await Self.resumeWritingNothing(s, "r", plugins: ["other"])
      guard case .missingPlugin(let record, "simulate") = missing else {
        Issue.record("answered \(missing)")
        return
      }
      #expect(record.status == .failed)

      // A runner holds the lease of a RUNNING run: left to it.
      _ = try await s.create("busy")
      guard case .held(let running) = try await Self.resumeWritingNothing(s, "busy") else {
        Issue.record("a held run was not answered held")
        return
      }
      #expect(running.status == .running)

      // An ended run is answered as it is.
      let fence = try await s.create("done")
      for cursor in 0..<3 { try await s.store.commitStep(s.commit("done", fence: fence, cursor: cursor)) }
      try await s.store.releaseLease(workflowID: "done", fence: fence, runEnded: true)
      guard case .ended(let completed) = try await Self.resumeWritingNothing(s, "done") else {
        Issue.record("an ended run was not answered ended")
        return
      }
      #expect(completed.status == .completed)
    }
  }

  /// Resumes run `id` and expects everything stored of it unchanged; returns the outcome.
  static func resumeWritingNothing(_ s: StoreUnderTest, _ id: String, plugins: Set<String> = plugins) async throws
    -> ResumeOutcome
  {
    let before = try await s.snapshot(id)
    let outcome = try await s.store.resume(ResumeRequest(workflowID: id, plugins: plugins, timing: s.timing()))
    #expect(try await s.snapshot(id) == before, "resume of '\(id)' answered \(outcome) and wrote")
    return outcome
  }

  @Test(arguments: StoreKind.allCases)
  func aRunWhoseLeaseLapsedIsResumedAtItsInterruptedStep(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let fence = try await s.create("orphan", lease: 50)
      try await s.store.commitStep(s.commit("orphan", fence: fence, cursor: 0))
      try await s.store.releaseLease(workflowID: "orphan", fence: fence, runEnded: false)
      guard case .resumed(let record, let next, 100_000, true) = try await s.store.resume(
        ResumeRequest(workflowID: "orphan", plugins: Self.plugins, timing: s.timing()))
      else {
        Issue.record("a RUNNING run with no lease was not resumed")
        return
      }
      #expect(next > fence && record.cursor == 1 && record.steps[1].attempts == 2 && record.resumes == 1)
    }
  }
}
