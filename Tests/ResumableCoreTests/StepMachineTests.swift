@testable import ResumableCore
import ResumableTestSupport
import Synchronization
import Testing

/// The runner's decisions, driven event by event with plain values: no
/// store, no plugin, no clock.
@Suite("Step machine")
struct StepMachineTests {
  static let limits = StepMachine.Limits(
    maximumArtifactBytes: 64, maximumHistoryMessages: 10,
    ttlMs: { $0 == nil ? 1_000 : 5_000 }, leaseMs: 300)

  static func machine(_ steps: [StepDefinition], cursor: Int = 0) -> StepMachine {
    var states = Array(repeating: StepProgress(), count: steps.count)
    states[cursor] = StepProgress().beginningAttempt(at: 100)
    let record = RunRecord(
      workflowID: "w1", definition: WorkflowDefinition(name: "wf", steps: steps), status: .running,
      cursor: cursor, steps: states, ledger: RunLedger(), input: Array("null".utf8), createdAtMs: 100,
      updatedAtMs: 100, expiresAtMs: 1_100, fence: 7)
    return StepMachine(record: record, limits: limits)
  }

  static let everything: @Sendable (String) -> Bool = { _ in true }

  /// From `.ready` through inputs and the circuit to the attempt.
  static func toAttempt(_ machine: inout StepMachine, inputs: [String: [UInt8]] = [:], nowMs: Int64 = 200) {
    guard case .readInputs = machine.handle(.next(draining: false, registered: everything), nowMs: nowMs) else {
      Issue.record("expected readInputs")
      return
    }
    guard case .admit = machine.handle(.inputs(.read(inputs: inputs, history: [])), nowMs: nowMs) else {
      Issue.record("expected admit")
      return
    }
    guard case .run = machine.handle(.admission(.proceed(probe: false), remaining: .zero), nowMs: nowMs) else {
      Issue.record("expected run")
      return
    }
    #expect(machine.phase == .attempting)
  }

  static func output(_ text: String, costMicros: Int64 = 0) -> StepOutput {
    StepOutput(artifact: Array(text.utf8), usage: StepUsage(inputTokens: 1, outputTokens: 2, costMicros: costMicros))
  }

  @Test func aTwoStepRunCommitsEachStepThenCompletesWithTheRecordAsWritten() throws {
    var machine = Self.machine([
      StepDefinition(name: "a", plugin: "simulate"), StepDefinition(name: "b", plugin: "simulate", inputs: ["a"]),
    ])
    Self.toAttempt(&machine)
    guard case .write(.commit(let first)) = machine.handle(.attemptEnded(.succeeded(Self.output("\"A\"", costMicros: 5))), nowMs: 300)
    else { throw Expectation("a commit of a") }
    #expect(first.cursor == 0 && first.stepName == "a" && first.artifact == Array("\"A\"".utf8))
    #expect(first.next?.name == "b" && first.next?.step.status == .running && first.next?.step.attempts == 1)
    #expect(first.timing.ttlMs == 1_000, "a commit that leaves the run going keeps the running expiry")
    #expect(machine.phase == .committing)
    guard case .proceed = machine.handle(.written(true), nowMs: 310) else { throw Expectation("proceed to b") }
    #expect(machine.record.cursor == 1 && machine.record.ledger.spentMicros == 5)
    #expect(machine.committed["a"] == Array("\"A\"".utf8), "b reads a's artifact from the drive, not the store")

    Self.toAttempt(&machine, inputs: ["a": Array("\"A\"".utf8)], nowMs: 320)
    #expect(machine.record.steps[1].given?.inputs.map(\.name) == ["a"])
    guard case .write(.commit(let last)) = machine.handle(.attemptEnded(.succeeded(Self.output("1"))), nowMs: 400)
    else { throw Expectation("a commit of b") }
    #expect(last.next == nil && last.timing.ttlMs == 5_000, "the last commit ends the run and sets its retention")
    guard case .complete(let record) = machine.handle(.written(true), nowMs: 410) else { throw Expectation("complete") }
    #expect(record.status == .completed && record.cursor == 2 && machine.phase == .done)
    #expect(record.steps.map(\.status) == [.completed, .completed])
  }

  @Test func aRetryableFailureRecordsTheRetryWaitsItsBackoffAndBeginsTheNextAttempt() throws {
    let retry = RetryPolicy(maxAttempts: 2, initialBackoffMilliseconds: 40, maxBackoffMilliseconds: 40, multiplier: 1)
    var machine = Self.machine([StepDefinition(name: "a", plugin: "simulate", retry: retry)])
    Self.toAttempt(&machine)
    let failure = StepFailure("504", retryable: true, usage: StepUsage(costMicros: 3))
    guard case .write(.failure(let recorded)) = machine.handle(.attemptEnded(.failed(failure)), nowMs: 300)
    else { throw Expectation("the failure is recorded") }
    #expect(recorded.runError == nil && recorded.step.status == .retrying && recorded.step.lastError == "504")
    guard case .waiting(let reason) = machine.phase else { throw Expectation("waiting") }
    #expect(reason.contains("backoff"))
    guard case .sleep(let delay) = machine.handle(.written(true), nowMs: 300) else { throw Expectation("a backoff") }
    #expect(delay <= .milliseconds(40))
    #expect(machine.record.ledger.spentMicros == 3, "the failed attempt's cost is charged once it is written")
    guard case .write(.begin(let begin)) = machine.handle(.waited(true), nowMs: 350) else { throw Expectation("begin") }
    #expect(begin.step.attempts == 2 && begin.step.startedAtMs == 350 && begin.resume == nil)
    guard case .proceed = machine.handle(.written(true), nowMs: 351) else { throw Expectation("proceed") }
    #expect(machine.attemptsThisDrive == 2 && machine.record.steps[0].attempts == 2)

    // The second failure is the last the policy allows: the run fails.
    Self.toAttempt(&machine, nowMs: 360)
    guard case .write(.failure(let final)) = machine.handle(.attemptEnded(.failed(failure)), nowMs: 400)
    else { throw Expectation("the run's failure") }
    #expect(final.runError == "step 'a' failed after 2 attempts: 504" && final.timing.ttlMs == 5_000)
    guard case .stop(release: true, why: .failed) = machine.handle(.written(true), nowMs: 410)
    else { throw Expectation("stop, releasing") }
    #expect(machine.record.status == .failed && machine.record.ledger.spentMicros == 6)
  }

  @Test func aWaitCutShortByShutdownStopsAndReleasesBeforeTheNextAttempt() throws {
    var machine = Self.machine([StepDefinition(name: "a", plugin: "simulate")])
    Self.toAttempt(&machine)
    _ = machine.handle(.attemptEnded(.failed(StepFailure("busy", retryable: true))), nowMs: 300)
    _ = machine.handle(.written(true), nowMs: 300)
    guard case .stop(release: true, why: .shuttingDown) = machine.handle(.waited(false), nowMs: 320)
    else { throw Expectation("stop") }
    #expect(machine.phase == .stopped && machine.record.steps[0].attempts == 1)
  }

  @Test func aNonRetryableFailureFailsTheRunAtOnce() throws {
    var machine = Self.machine([StepDefinition(name: "a", plugin: "simulate")])
    Self.toAttempt(&machine)
    guard case .write(.failure(let final)) = machine.handle(
      .attemptEnded(.failed(StepFailure("bad request", retryable: false))), nowMs: 300)
    else { throw Expectation("the run's failure") }
    #expect(final.runError == "step 'a' failed after 1 attempt: bad request" && final.step.lastErrorClass == .nonRetryable)
  }

  @Test func anArtifactOverTheLimitFailsTheRunWithoutRetry() throws {
    var machine = Self.machine([StepDefinition(name: "a", plugin: "simulate")])
    Self.toAttempt(&machine)
    let big = Self.output(String(repeating: "x", count: 65))
    guard case .write(.failure(let final)) = machine.handle(.attemptEnded(.succeeded(big)), nowMs: 300)
    else { throw Expectation("the run's failure") }
    #expect(final.runError?.contains("produced an artifact of 65 bytes; the limit is 64 bytes") == true)
  }

  @Test func anOpenCircuitGivesTheAttemptBackWaitsThenBeginsItAgain() throws {
    var machine = Self.machine([StepDefinition(name: "a", plugin: "simulate")])
    _ = machine.handle(.next(draining: false, registered: Self.everything), nowMs: 200)
    _ = machine.handle(.inputs(.read(inputs: [:], history: [])), nowMs: 200)
    let open = CircuitBreakers.Admission.wait(until: .now + .seconds(2), reason: "circuit open")
    guard case .write(.wait(let wait)) = machine.handle(.admission(open, remaining: .seconds(2)), nowMs: 200)
    else { throw Expectation("the wait is recorded") }
    #expect(wait.step.status == .waiting && wait.step.attempts == 0 && wait.step.nextAttemptAtMs == 2_200)
    guard case .sleep(.seconds(2)) = machine.handle(.written(true), nowMs: 200) else { throw Expectation("sleep") }
    guard case .admit = machine.handle(.waited(true), nowMs: 2_200) else { throw Expectation("ask again") }
    // Still open: sleep again, writing nothing.
    guard case .sleep = machine.handle(.admission(open, remaining: .milliseconds(5)), nowMs: 2_200)
    else { throw Expectation("sleep again") }
    guard case .admit = machine.handle(.waited(true), nowMs: 2_205) else { throw Expectation("ask again") }
    guard case .write(.begin(let begin)) = machine.handle(.admission(.proceed(probe: true), remaining: .zero), nowMs: 2_210)
    else { throw Expectation("the attempt is begun again") }
    #expect(begin.step.attempts == 1 && begin.step.startedAtMs == 2_210 && machine.probe)
    guard case .run(_, _, let attempt, _, _) = machine.handle(.written(true), nowMs: 2_211) else { throw Expectation("run") }
    #expect(attempt == 1 && machine.phase == .attempting)
  }

  @Test func shutdownAMissingPluginAndAnApprovalEachEndTheDriveBeforeTheAttempt() throws {
    var draining = Self.machine([StepDefinition(name: "a", plugin: "simulate")])
    guard case .stop(release: true, why: .shuttingDown) = draining.handle(
      .next(draining: true, registered: Self.everything), nowMs: 200)
    else { throw Expectation("stop") }

    var missing = Self.machine([StepDefinition(name: "a", plugin: "gone")])
    guard case .write(.failure(let failure)) = missing.handle(.next(draining: false, registered: { $0 != "gone" }), nowMs: 200)
    else { throw Expectation("failure") }
    #expect(failure.runError?.contains("plugin 'gone' is not registered on this server") == true)

    var asking = Self.machine([StepDefinition(name: "a", plugin: "simulate", approval: .before)])
    guard case .askApproval(.before, _, nil) = asking.handle(.next(draining: false, registered: Self.everything), nowMs: 200)
    else { throw Expectation("approval") }
    #expect(asking.phase == .stopped)
  }

  @Test func lostLeasesRefusedWritesAndUnreadableInputsEachStopWithoutCommitting() throws {
    var lost = Self.machine([StepDefinition(name: "a", plugin: "simulate")])
    Self.toAttempt(&lost)
    guard case .stop(release: false, why: .leaseLost) = lost.handle(.attemptEnded(.leaseLost), nowMs: 300)
    else { throw Expectation("lease lost") }

    var refused = Self.machine([StepDefinition(name: "a", plugin: "simulate")])
    Self.toAttempt(&refused)
    _ = refused.handle(.attemptEnded(.succeeded(Self.output("1"))), nowMs: 300)
    guard case .stop(release: false, why: .writeRefused) = refused.handle(.written(false), nowMs: 300)
    else { throw Expectation("refused") }
    #expect(refused.record.steps[0].status == .running, "nothing of a refused commit is taken as done")

    var corrupt = Self.machine([StepDefinition(name: "a", plugin: "simulate", inputs: ["x"])])
    _ = corrupt.handle(.next(draining: false, registered: Self.everything), nowMs: 200)
    guard case .write(.failure(let failure)) = corrupt.handle(.inputs(.corrupt("the artifact of step 'x' is missing")), nowMs: 200)
    else { throw Expectation("failure") }
    #expect(failure.step.lastErrorClass == .nonRetryable)

    var down = Self.machine([StepDefinition(name: "a", plugin: "simulate")])
    _ = down.handle(.next(draining: false, registered: Self.everything), nowMs: 200)
    guard case .stop(release: true, why: .inputsUnavailable) = down.handle(.inputs(.unavailable("down")), nowMs: 200)
    else { throw Expectation("left for a resume") }
  }

  @Test func lowConfidenceHoldsTheOutputForAPerson() throws {
    var machine = Self.machine([StepDefinition(name: "a", plugin: "simulate", approval: .belowConfidence(0.8))])
    Self.toAttempt(&machine)
    let unsure = StepOutput(artifact: Array("1".utf8), usage: StepUsage(costMicros: 9), confidence: 0.5)
    guard case .askApproval(.lowConfidence(0.5), let state, let held) = machine.handle(.attemptEnded(.succeeded(unsure)), nowMs: 300)
    else { throw Expectation("approval") }
    #expect(state.status == .completed && state.committedCostMicros == 9 && held?.output.artifact == Array("1".utf8))
  }

  struct Expectation: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = "expected \(description)" }
  }
}

/// Timers on the manual clock: they fire when the test moves time, not before.
@Suite("Engine clock")
struct EngineClockTests {
  @Test func theLeaseKeeperRenewsAsTheManualClockMovesAndNeverBefore() async throws {
    let clock = ManualClock()
    let leases = AttemptLeases()
    let renewals = Mutex(0)
    _ = leases.register(workflowID: "w1", fence: 1, now: clock.now)
    let keeper = Task {
      await leases.keep(lease: .seconds(3), clock: clock) { _ in
        renewals.withLock { $0 += 1 }
        return true
      }
    }
    defer { keeper.cancel() }
    // The keeper ticks every sixth of the lease (500 ms) and renews what was
    // last renewed a third of it (1 s) ago.
    try await clock.waitForSleepers()
    clock.advance(by: .milliseconds(500))
    try await clock.waitForSleepers()
    #expect(renewals.withLock { $0 } == 0, "half a second in, nothing is due")
    clock.advance(by: .milliseconds(500))
    try await eventually { if renewals.withLock({ $0 }) != 1 { throw StepMachineTests.Expectation("1 renewal") } }
    try await clock.waitForSleepers()
    clock.advance(by: .milliseconds(500))
    try await clock.waitForSleepers()
    #expect(renewals.withLock { $0 } == 1)
    clock.advance(by: .milliseconds(500))
    try await eventually { if renewals.withLock({ $0 }) != 2 { throw StepMachineTests.Expectation("2 renewals") } }
  }

  @Test func aSleepReturnsOnlyWhenTheClockReachesItsDeadline() async throws {
    let clock = ManualClock(epochMilliseconds: 1_000)
    let woke = Mutex(false)
    let sleeper = Task {
      try await clock.sleep(for: .seconds(10))
      woke.withLock { $0 = true }
    }
    try await clock.waitForSleepers()
    clock.advance(by: .seconds(9))
    #expect(!woke.withLock { $0 } && clock.sleepers == 1)
    clock.advance(by: .seconds(1))
    try await sleeper.value
    #expect(woke.withLock { $0 } && clock.epochMilliseconds == 11_000)
  }
}
