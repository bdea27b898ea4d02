/// The runner of one run as a value: events in, actions out (postgres-nio's
/// `ConnectionStateMachine` shape). It decides what happens to the run's
/// steps; `WorkflowEngine.drive` performs what it decides (store writes, the
/// plugin's attempt, sleeps) and reports back what came of it.
///
/// Every decision of the runner lives here, with no store, plugin or clock
/// of its own (the time of a write is given with the event), so its tests
/// drive it with plain values.
///
/// A step goes through the phases
/// `ready → attempting → committing → ready (next step) … → done`, and on the
/// way may be `waiting` (a backoff, an open circuit) or end the drive
/// `failed` (out of retries, a limit) or `stopped` (left for a resume: a
/// shutdown, a lost lease, an unreachable store, a person's approval).
struct StepMachine: Sendable {
  /// Where the run's current step stands.
  enum Phase: Hashable, Sendable {
    /// The step at the cursor is next; nothing is out.
    case ready
    /// Its inputs and history are being read.
    case readingInputs
    /// The plugin's circuit is being asked whether the attempt may run.
    case admitting
    /// The attempt is out at the plugin.
    case attempting
    /// Between attempts, for the reason given: no attempt runs.
    case waiting(reason: String)
    /// The step's commit is out.
    case committing
    /// The run failed (its failure is written, or being written).
    case failed
    /// The run completed.
    case done
    /// The drive ended with the run left for later (a resume, recovery, an
    /// approval): the reason is in the log.
    case stopped
  }

  /// A write the driver makes through the store.
  ///
  /// Indirect, as `Action`: one pointer in the driver's frames, not 536 bytes.
  indirect enum Write: Hashable, Sendable {
    case begin(AttemptBegin)
    case commit(StepCommit)
    case failure(AttemptFailure)
    case wait(StepWait)

    /// What the write charges to the run's ledger, in micro-dollars.
    var chargedMicros: Int64 {
      switch self {
      case .commit(let commit): commit.usage.costMicros
      case .failure(let failure): failure.usage.costMicros
      case .begin, .wait: 0
      }
    }
  }

  /// What the driver does next.
  ///
  /// Indirect (its payload boxed): the driver's async frames keep each action
  /// they hold across a suspension, field by field — 641 bytes a copy inline,
  /// one pointer boxed — for as long as the run is in flight.
  indirect enum Action: Sendable {
    /// Read the step's declared inputs and the history its policy lets
    /// through, then report `.inputs`.
    case readInputs(StepDefinition)
    /// Ask the circuit of `plugin` whether the attempt may run, then report `.admission`.
    case admit(plugin: String)
    /// Run attempt `attempt` of the step at `index`, then report `.attemptEnded`.
    case run(step: StepDefinition, index: Int, attempt: Int, inputs: [String: [UInt8]], history: [HistoryEntry])
    /// Make the write, then report `.written`.
    case write(Write)
    /// Wait `duration` holding the lease, then report `.waited`.
    case sleep(Duration)
    /// The step at the cursor is ready for an attempt (the next step after a
    /// commit, the next attempt after a backoff): report `.next`.
    case proceed
    /// Write the approval request the step needs (which gives up the lease); the drive ends.
    case askApproval(ApprovalKind, state: StepProgress, held: (output: StepOutput, step: StepProgress)?)
    /// The run completed: answer its waiters with `record`, release the lease; the drive ends.
    case complete(RunRecord)
    /// The drive ends; release the lease first when `release` (it is ours
    /// still), else it is lost or was never answered for.
    case stop(release: Bool, why: StopReason)
    /// A parallel run's branch ended (committed, or failed out of its
    /// retries): the run goes on; its driver decides what follows.
    case branchEnded(BranchEnd)
  }

  /// How a parallel run's branch ended.
  enum BranchEnd: Sendable {
    /// Its commit was written.
    case committed(artifact: [UInt8], step: StepProgress)
    /// Its failure was written (the step FAILED, the run still RUNNING);
    /// `runError` is what the run's failure says, if the run fails for it.
    case failed(runError: String, step: StepProgress)
  }

  /// Why a drive stops with the run left for later (logged by the driver).
  enum StopReason: Hashable, Sendable {
    case shuttingDown
    case attemptCancelled
    case leaseLost
    case inputsUnavailable(String)
    case writeRefused
    case failed
    case awaitingApproval
  }

  /// What became of the action the driver performed.
  enum Event: Sendable {
    /// The step at the cursor may begin (at the start of a drive, and after
    /// `.proceed`): whether the engine is shutting down, and whether this
    /// server has a plugin of that name.
    case next(draining: Bool, registered: @Sendable (String) -> Bool)
    /// The inputs and history were read; `.corrupt` when they are gone for
    /// good; `.unavailable` when the store did not answer.
    case inputs(InputsRead)
    /// The circuit's answer (or a spend cap's, or a shared limit's: they wait the same way).
    case admission(CircuitBreakers.Admission, remaining: Duration)
    /// The attempt would take the run past its budget: it does not start.
    case overBudget(BudgetStop)
    /// The attempt ended.
    case attemptEnded(AttemptOutcome)
    /// The write was made (true), or refused or never answered (false).
    case written(Bool)
    /// The wait ended (true), or was cut short: shutdown (also when it begins
    /// just as the wait ends), lease lost, cancelled.
    case waited(Bool)
  }

  enum InputsRead: Sendable {
    case read(inputs: [String: [UInt8]], history: [HistoryEntry])
    case corrupt(String)
    case unavailable(String)
  }

  /// What an attempt came to. `indirect` (one pointer): the attempt's frame,
  /// which a run waiting on a long step holds, keeps one for the wait's answer.
  indirect enum AttemptOutcome: Sendable {
    case succeeded(StepOutput)
    case failed(StepFailure)
    /// The attempt was cancelled (shutdown past its grace period): nothing is recorded.
    case cancelled
    /// The lease was lost during the attempt: another runner owns the run.
    case leaseLost
  }

  /// The engine's settings the machine decides with.
  struct Limits: Sendable {
    var maximumArtifactBytes: Int
    var maximumHistoryMessages: Int
    /// The expiry of a write that leaves the run going, and of one that ends it.
    var ttlMs: @Sendable (RunRecord.Status?) -> Int64
    var leaseMs: Int64
  }

  /// The write the driver has out, and what follows it. `indirect`: a commit's
  /// payload (two step records and an output) inline would make every machine,
  /// which a run in flight holds, 500 bytes larger.
  private indirect enum Pending: Sendable {
    case none
    case beginAfterCircuit(StepProgress)
    case beginAfterBackoff(StepProgress)
    case commit(StepProgress, StepOutput, next: (name: String, step: StepProgress)?, WriteTiming)
    case retry(StepProgress, StepUsage, WorkflowEngine.RetryDelay, WriteTiming)
    case circuitWait(StepProgress, remaining: Duration)
    case failure(StepProgress, StepUsage, runError: String, WriteTiming)
  }

  private(set) var record: RunRecord
  private(set) var phase: Phase = .ready
  /// Attempts of the current step in this drive (its retry policy counts these).
  private(set) var attemptsThisDrive = 1
  /// Whether the attempt about to run is the circuit's half-open probe.
  private(set) var probe = false
  private let limits: Limits
  private let neededLater: Set<String>
  /// Artifacts committed during this drive that later steps read.
  private(set) var committed: [String: [UInt8]] = [:]
  private var pending = Pending.none
  private var waitedForCircuit = false
  /// What the attempt about to run is given: its inputs and history.
  private(set) var given: (inputs: [String: [UInt8]], history: [HistoryEntry]) = ([:], [])

  /// - Parameter branch: a parallel run's step to drive on its own (its
  ///   writes name no cursor, its commit neither begins a next step nor ends
  ///   the run, its failure does not fail the run); nil: the step at the
  ///   cursor, then each next one in list order.
  @inline(never)  // As `handle`: not in the driver's frame.
  init(record: RunRecord, limits: Limits, branch: Int? = nil) {
    self.record = record
    self.limits = limits
    self.neededLater = Set(record.definition.steps.flatMap(\.inputs))
    self.index = branch ?? record.cursor
    self.isBranch = branch != nil
  }

  /// Whether this machine drives one branch of a parallel run.
  let isBranch: Bool
  /// The cursor the machine's writes expect the run at: none for a branch.
  private var writeCursor: Int { isBranch ? StepCommit.branch : index }

  /// The step being driven: the run's cursor, until the last step commits
  /// (the cursor then moves past it).
  private(set) var index: Int
  var step: StepDefinition { record.definition.steps[index] }
  private var isLast: Bool { index + 1 == record.definition.steps.count }

  /// Takes the next event at `nowMs` (the wall clock, for what is written).
  ///
  /// Never inlined: the driver's loop is an async function, whose frame would
  /// keep the temporaries of every transition for as long as the run is in flight.
  @inline(never)
  mutating func handle(_ event: Event, nowMs: Int64) -> Action {
    switch event {
    case .next(let draining, let registered):
      return next(draining: draining, registered: registered, nowMs: nowMs)
    case .inputs(let read):
      return inputsRead(read, nowMs: nowMs)
    case .admission(let admission, let remaining):
      return admitted(admission, remaining: remaining, nowMs: nowMs)
    case .overBudget(let stop):
      return overBudget(stop, nowMs: nowMs)
    case .attemptEnded(let outcome):
      return attemptEnded(outcome, nowMs: nowMs)
    case .written(let ok):
      return written(ok, nowMs: nowMs)
    case .waited(let ok):
      return waited(ok, nowMs: nowMs)
    }
  }

  // MARK: - Transitions

  private mutating func next(draining: Bool, registered: (String) -> Bool, nowMs: Int64) -> Action {
    precondition(phase == .ready, "next step asked for in phase \(phase)")
    if draining { return stop(release: true, .shuttingDown) }
    guard registered(step.plugin) else {
      // A snapshot naming a plugin this server lacks (e.g. started by a newer server).
      return failRun(
        usage: StepUsage(), message: "plugin '\(step.plugin)' is not registered on this server",
        errorClass: .nonRetryable, nowMs: nowMs)
    }
    if step.approval == .before, record.approvedCursor != index {
      // A person approves the step before it runs: the run waits, leased by nobody.
      phase = .stopped
      return .askApproval(.before, state: record.steps[index], held: nil)
    }
    phase = .readingInputs
    return .readInputs(step)
  }

  private mutating func inputsRead(_ read: InputsRead, nowMs: Int64) -> Action {
    precondition(phase == .readingInputs, "inputs reported in phase \(phase)")
    switch read {
    case .read(let inputs, let history):
      given = (inputs, history)
      waitedForCircuit = false
      phase = .admitting
      return .admit(plugin: step.plugin)
    case .corrupt(let message):
      // Missing or unreadable for good: another runner would meet the same, so
      // the run fails (and says why) rather than being taken over again and again.
      return failRun(
        usage: StepUsage(), message: "cannot read the step's inputs: \(message)", errorClass: .nonRetryable,
        nowMs: nowMs)
    case .unavailable(let message):
      return stop(release: true, .inputsUnavailable(message))
    }
  }

  private mutating func admitted(_ admission: CircuitBreakers.Admission, remaining: Duration, nowMs: Int64) -> Action {
    precondition(phase == .admitting, "admission reported in phase \(phase)")
    switch admission {
    case .proceed(let probe):
      self.probe = probe
      guard waitedForCircuit else { return run() }
      // The attempt given back while the circuit was open is begun again.
      let begin = begin(nowMs: nowMs)
      pending = .beginAfterCircuit(begin.step)
      return .write(.begin(begin))
    case .wait(_, let reason):
      let remaining = max(remaining, .zero)
      guard !waitedForCircuit else {
        phase = .waiting(reason: reason)
        return .sleep(max(remaining, .milliseconds(1)))
      }
      waitedForCircuit = true
      var waiting = record.steps[index]
      // The attempt begun for it never ran: it is given back.
      if waiting.status == .running, waiting.attempts > 0 { waiting.attempts -= 1 }
      waiting.status = .waiting
      waiting.waitReason = reason
      waiting.nextAttemptAtMs = nowMs + remaining.wholeMilliseconds
      phase = .waiting(reason: reason)
      pending = .circuitWait(waiting, remaining: remaining)
      let timing = timing(nowMs: nowMs)
      return .write(
        .wait(StepWait(
          workflowID: record.workflowID, fence: record.fence, cursor: writeCursor, stepName: step.name, step: waiting,
          timing: timing)))
    }
  }

  /// The attempt about to run would take the run past its budget: it is given
  /// back, never run. `on_budget: fail` fails the run (non-retryable);
  /// `pause` asks a person for more (the run AWAITING_BUDGET).
  private mutating func overBudget(_ stop: BudgetStop, nowMs: Int64) -> Action {
    precondition(phase == .admitting, "a budget stop reported in phase \(phase)")
    probe = false
    var stopped = record.steps[index]
    if stopped.status == .running, stopped.attempts > 0 { stopped.attempts -= 1 }
    record.steps[index] = stopped
    let message = stop.message(step: step.name)
    if record.definition.onBudget == .fail {
      return failRun(usage: StepUsage(), message: message, errorClass: .nonRetryable, nowMs: nowMs)
    }
    stopped.status = .waiting
    stopped.waitReason = message
    phase = .stopped
    return .askApproval(.budget(stop), state: stopped, held: nil)
  }

  private mutating func run() -> Action {
    phase = .attempting
    var state = record.steps[index]
    state.given = GivenContext(inputs: given.inputs, order: step.inputs, history: given.history)
    record.steps[index] = state
    return .run(
      step: step, index: index, attempt: Int(state.attempts), inputs: given.inputs, history: given.history)
  }

  private mutating func attemptEnded(_ outcome: AttemptOutcome, nowMs: Int64) -> Action {
    precondition(phase == .attempting, "attempt ended in phase \(phase)")
    probe = false
    let artifactLimit = step.maxArtifactBytes ?? limits.maximumArtifactBytes
    let stepState = record.steps[index]
    switch outcome {
    case .cancelled:
      return stop(release: true, .attemptCancelled)
    case .leaseLost:
      return stop(release: false, .leaseLost)
    case .succeeded(let output) where output.artifact.count > artifactLimit:
      return failRun(
        usage: output.usage,
        message: "step '\(step.name)' produced an artifact of \(output.artifact.count) bytes; the limit is \(artifactLimit) bytes",
        errorClass: .nonRetryable, nowMs: nowMs)
    case .succeeded(let output) where output.history.reduce(0, { $0 + $1.byteCount }) > artifactLimit:
      let bytes = output.history.reduce(0) { $0 + $1.byteCount }
      return failRun(
        usage: output.usage,
        message: "step '\(step.name)' appended \(bytes) bytes of history; the limit is \(artifactLimit) bytes",
        errorClass: .nonRetryable, nowMs: nowMs)
    case .succeeded(let output) where Self.needsApproval(step, output):
      // Unsure of its output: a person decides whether it is kept (and the run goes on).
      var held = stepState
      held.status = .completed
      held.usage = held.usage + output.usage
      held.committedCostMicros = output.usage.costMicros
      held.finishedAtMs = nowMs
      held.artifactBytes = UInt64(output.artifact.count)
      phase = .stopped
      return .askApproval(.lowConfidence(output.confidence ?? 0), state: held, held: (output, held))
    case .succeeded(let output):
      let timing = timing(nowMs: nowMs, ending: isLast && !isBranch ? .completed : nil)
      var done = stepState
      done.status = .completed
      done.usage = done.usage + output.usage
      done.committedCostMicros = output.usage.costMicros
      done.finishedAtMs = timing.nowMs
      done.artifactBytes = UInt64(output.artifact.count)
      let next: (name: String, step: StepProgress)? =
        isLast || isBranch
        ? nil : (record.definition.steps[index + 1].name, record.steps[index + 1].beginningAttempt(at: timing.nowMs))
      phase = .committing
      pending = .commit(done, output, next: next, timing)
      return .write(
        .commit(StepCommit(
          workflowID: record.workflowID, fence: record.fence, cursor: writeCursor, stepName: step.name,
          artifact: output.artifact, step: done, usage: output.usage, next: next, timing: timing,
          history: output.history, maxHistoryMessages: historyCap,
          // A branch's commit: its driver says where the run's cursor is when it writes it.
          branchCursor: isBranch ? index + 1 : nil)))
    case .failed(let failure):
      let exhausted = !failure.retryable || attemptsThisDrive >= step.retry.maxAttempts
      if exhausted {
        return failRun(usage: failure.usage, message: failure.message, errorClass: FailureKind(failure.errorClass), nowMs: nowMs)
      }
      let timing = timing(nowMs: nowMs)
      let delay = WorkflowEngine.retryDelay(after: failure, policy: step.retry, attempt: attemptsThisDrive)
      var retrying = stepState
      retrying.status = .retrying
      retrying.usage = retrying.usage + failure.usage
      retrying.lastError = failure.message
      retrying.lastErrorClass = FailureKind(failure.errorClass)
      retrying.finishedAtMs = timing.nowMs
      retrying.waitReason = delay.reason
      retrying.nextAttemptAtMs = timing.nowMs + delay.duration.wholeMilliseconds
      phase = .waiting(reason: delay.reason)
      pending = .retry(retrying, failure.usage, delay, timing)
      return .write(
        .failure(AttemptFailure(
          workflowID: record.workflowID, fence: record.fence, cursor: writeCursor, stepName: step.name, step: retrying,
          usage: failure.usage, runError: nil, timing: timing)))
    }
  }

  private mutating func written(_ ok: Bool, nowMs: Int64) -> Action {
    let write = pending
    pending = .none
    guard ok else { return stop(release: false, .writeRefused) }
    switch write {
    case .none:
      preconditionFailure("a write reported with none out (phase \(phase))")
    case .beginAfterCircuit(let begun):
      record.steps[index] = begun
      return run()
    case .beginAfterBackoff(let begun):
      record.steps[index] = begun
      attemptsThisDrive += 1
      phase = .ready
      return .proceed
    case .commit(let done, let output, let next, let timing):
      record.steps[index] = done
      record.charge(output.usage, at: timing)
      record.historyLength = min(record.historyLength + output.history.count, max(1, historyCap))
      if neededLater.contains(step.name) { committed[step.name] = output.artifact }
      if isBranch {
        phase = .done
        return .branchEnded(.committed(artifact: output.artifact, step: done))
      }
      attemptsThisDrive = 1
      record.cursor = index + 1
      guard let next else {
        record.status = .completed
        phase = .done
        return .complete(record)
      }
      index += 1
      record.steps[index] = next.step
      phase = .ready
      return .proceed
    case .retry(let retrying, let usage, let delay, let timing):
      record.steps[index] = retrying
      record.charge(usage, at: timing)
      return .sleep(delay.duration)
    case .circuitWait(let waiting, let remaining):
      record.steps[index] = waiting
      return .sleep(max(remaining, .milliseconds(1)))
    case .failure(let failed, let usage, let runError, let timing):
      record.steps[index] = failed
      record.charge(usage, at: timing)
      phase = .failed
      if isBranch { return .branchEnded(.failed(runError: runError, step: failed)) }
      record.status = .failed
      record.error = runError
      return .stop(release: true, why: .failed)
    }
  }

  private mutating func waited(_ ok: Bool, nowMs: Int64) -> Action {
    guard case .waiting = phase else { preconditionFailure("a wait reported in phase \(phase)") }
    guard ok else { return stop(release: true, .shuttingDown) }
    if waitedForCircuit, record.steps[index].status == .waiting {
      phase = .admitting
      return .admit(plugin: step.plugin)
    }
    let begin = begin(nowMs: nowMs)
    pending = .beginAfterBackoff(begin.step)
    return .write(.begin(begin))
  }

  // MARK: - Helpers

  private mutating func stop(release: Bool, _ why: StopReason) -> Action {
    phase = .stopped
    return .stop(release: release, why: why)
  }

  /// Fails the run at the current step after its last attempt.
  private mutating func failRun(usage: StepUsage, message: String, errorClass: FailureKind, nowMs: Int64) -> Action {
    let timing = timing(nowMs: nowMs, ending: isBranch ? nil : .failed)
    var failed = record.steps[index]
    failed.status = .failed
    failed.usage = failed.usage + usage
    failed.lastError = message
    failed.lastErrorClass = errorClass
    failed.finishedAtMs = timing.nowMs
    failed.waitReason = nil
    failed.nextAttemptAtMs = 0
    let runError = "step '\(step.name)' failed after \(failed.attempts) attempt\(failed.attempts == 1 ? "" : "s"): \(message)"
    phase = .failed
    pending = .failure(failed, usage, runError: runError, timing)
    // A branch's failure leaves the run RUNNING: its driver fails the run
    // once the branches beside it have ended.
    return .write(
      .failure(AttemptFailure(
        workflowID: record.workflowID, fence: record.fence, cursor: writeCursor, stepName: step.name, step: failed,
        usage: usage, runError: isBranch ? nil : runError, timing: timing)))
  }

  /// The write that begins the next attempt of the current step.
  private func begin(nowMs: Int64) -> AttemptBegin {
    AttemptBegin(
      workflowID: record.workflowID, fence: record.fence, cursor: writeCursor, stepName: step.name,
      step: record.steps[index].beginningAttempt(at: nowMs), resume: nil, timing: timing(nowMs: nowMs))
  }

  private var historyCap: Int { record.definition.maxHistoryMessages ?? limits.maximumHistoryMessages }

  private func timing(nowMs: Int64, ending: RunRecord.Status? = nil) -> WriteTiming {
    WriteTiming(nowMs: nowMs, ttlMs: limits.ttlMs(ending), leaseMs: limits.leaseMs)
  }

  static func needsApproval(_ step: StepDefinition, _ output: StepOutput) -> Bool {
    guard case .belowConfidence(let threshold) = step.approval, let confidence = output.confidence else { return false }
    return confidence < threshold
  }
}

/// Why a run asks a person: before its step runs, or after, on low confidence.
enum ApprovalKind: Sendable {
  case before
  case lowConfidence(Double)
  /// Not a person's approval of the step: of more money for the run.
  case budget(BudgetStop)
}
