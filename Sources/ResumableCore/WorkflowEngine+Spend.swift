import Logging
import Synchronization

/// The money of one drive of a run: what the run has spent, and what its
/// attempts out now are expected to cost. A parallel run's branches share one,
/// so the budget sees every branch's attempt, not only its own.
final class RunSpend: Sendable {
  private let state: Mutex<(spent: Int64, inFlight: Int64)>

  init(spent: Int64) {
    state = Mutex((spent, 0))
  }

  /// Reserves `estimate` for an attempt about to start, unless the run's
  /// projection (spent + in flight + estimate) would pass `budget`: then
  /// nothing is reserved and the stop is returned.
  func reserve(_ estimate: Int64, budget: Int64?) -> BudgetStop? {
    state.withLock { state in
      if let budget {
        let stop = BudgetStop(budgetMicros: budget, spentMicros: state.spent, inFlightMicros: state.inFlight, estimateMicros: estimate)
        if stop.projectedMicros > budget { return stop }
      }
      state.inFlight &+= estimate
      return nil
    }
  }

  /// The attempt reserved with `estimate` ended, having cost `charged`.
  func settle(_ estimate: Int64, charged: Int64) {
    state.withLock { state in
      state.inFlight &-= estimate
      state.spent &+= charged
    }
  }
}

/// Spending controls asked before each attempt: the run's budget, then the
/// server's and the workflow's spend caps (hourly windows kept in the store,
/// shared by every server).
extension WorkflowEngine {
  /// How often an attempt held by a spend cap looks again, at most.
  static let spendCapPoll = Duration.seconds(5)

  /// Whether attempts of `record` need an estimate before they start.
  func needsEstimate(_ record: RunRecord) -> Bool {
    record.budgetMicros != nil || configuration.maxSpendPerHourMicros != nil
      || record.definition.maxSpendPerHourMicros != nil
  }

  /// What the attempt `machine` is about to run is expected to use: the
  /// step's `estimated_cost_usd` when set, else its plugin's estimate.
  func estimate(_ machine: inout StepMachine) -> AttemptEstimate {
    let step = machine.step
    let context = stepContext(
      step: step, index: machine.index, attempt: Int(machine.record.steps[machine.index].attempts), record: machine.record,
      inputs: machine.given.inputs, history: machine.given.history)
    var estimate = registry.plugin(named: step.plugin)?.estimate(context) ?? AttemptEstimate()
    if let fixed = step.estimatedCostMicros { estimate.costMicros = fixed }
    return estimate
  }

  /// The answer of the spending controls for the attempt `machine` is about
  /// to run: nil to go on (its estimate reserved in `spend`), a budget stop,
  /// or a wait for a spend cap.
  /// - Parameter estimate: the attempt's expected cost (``estimate(_:)``).
  func spendControl(
    _ machine: inout StepMachine, estimate: Int64, spend: RunSpend, reserved: inout Int64, logger: Logger
  ) async -> StepMachine.Event? {
    let record = machine.record
    if let stop = spend.reserve(estimate, budget: record.budgetMicros) {
      return .overBudget(stop)
    }
    reserved = estimate
    var caps: [(SpendWindow, Int64)] = []
    if let cap = configuration.maxSpendPerHourMicros { caps.append((.server, cap)) }
    if let cap = record.definition.maxSpendPerHourMicros { caps.append((.workflow(record.workflowName), cap)) }
    for (window, cap) in caps {
      let now = clock.epochMilliseconds
      let reading: SpendReading
      do {
        reading = try await store.readSpend(window, nowMs: now)
      } catch {
        // The cap cannot be read: hold the attempt rather than spend past it.
        spend.settle(reserved, charged: 0)
        reserved = 0
        logger.warning("cannot read the spend window: \(error); the attempt waits")
        return .admission(
          .wait(until: clock.now + Self.spendCapPoll, reason: "spend guard: the spend window cannot be read (\(error))"),
          remaining: Self.spendCapPoll)
      }
      EngineMetrics.spendWindow(cap: window.cap, spentMicros: reading.spentMicros)
      guard reading.spentMicros &+ estimate > cap else { continue }
      spend.settle(reserved, charged: 0)
      reserved = 0
      EngineMetrics.spendWait(workflow: record.workflowName, cap: window.cap)
      let untilDrop = reading.nextDropAtMs.map { Duration.milliseconds(max(1, $0 - now)) } ?? Self.spendCapPoll
      let remaining = min(untilDrop, Self.spendCapPoll)
      let scope = window == .server ? "" : " by workflow '\(record.workflowName)'"
      let reason =
        "spend guard: \(Money.text(reading.spentMicros)) spent\(scope) in the last hour; the cap is \(Money.text(cap)) (this attempt: \(Money.text(estimate)) expected)"
      return .admission(.wait(until: clock.now + remaining, reason: reason), remaining: remaining)
    }
    return nil
  }

  /// The spend windows a run's charges are added to: the server's and its
  /// workflow's, where each has a cap.
  func spendWindows(of record: RunRecord) -> [SpendWindow] {
    var windows: [SpendWindow] = []
    if configuration.maxSpendPerHourMicros != nil { windows.append(.server) }
    if record.definition.maxSpendPerHourMicros != nil { windows.append(.workflow(record.workflowName)) }
    return windows
  }

  /// Adds what a write charged to the spend caps' windows (after the write:
  /// the windows' keys are not the run's, so on Redis Cluster they may live
  /// on another node; a crash in between leaves that cost out of the window,
  /// never out of the run's ledger).
  func recordSpend(_ micros: Int64, to windows: [SpendWindow], logger: Logger) async {
    guard micros > 0 else { return }
    for window in windows {
      do {
        try await retryingStore { try await self.store.addSpend(micros, to: window, nowMs: self.clock.epochMilliseconds) }
      } catch {
        logger.warning("cannot add \(Money.text(micros)) to the spend window: \(error)")
      }
    }
  }
}
