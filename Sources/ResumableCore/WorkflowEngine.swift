import Dispatch
import Foundation
public import Logging
import Synchronization

/// Runs workflows: starts and resumes runs, drives their steps, checkpoints
/// each step through a `StateStore`.
///
/// The engine's `run()` owns every runner task (structured concurrency): call
/// it once, in a task that lives as long as the server. Requests (`start`,
/// `resume`, `state`) may come from any task; a request that waits for its run
/// waits on a signal, never on the runner task itself, so cancelling a request
/// (its deadline, a dropped connection) never cancels the run.
///
/// - Important: at most one runner drives a run at a time: the runner holds
///   the run's lease in the store, and every write is fenced by its token.
public final class WorkflowEngine: Sendable {
  /// The result of `start`.
  public struct StartResult: Sendable {
    public var record: RunRecord
    /// False when the id named an existing run (conflict policy `useExisting`).
    public var created: Bool
  }

  /// What `start` does when a run with the requested id exists.
  public enum OnExistingRun: Sendable {
    /// Fail with `ALREADY_EXISTS`.
    case fail
    /// Return the existing run (waiting for it if asked).
    case useExisting
  }

  private struct Job: Sendable {
    var record: RunRecord
    var completion: RunCompletion
  }

  struct State {
    var active: [String: RunCompletion] = [:]
    var draining = false
  }

  let store: any StateStore
  let registry: PluginRegistry
  let workflows: [String: WorkflowDefinition]
  let configuration: EngineConfiguration
  let logger: Logger
  let state = Mutex(State())
  /// The attempts in flight, whose leases `keepAttemptLeases` renews.
  let attemptLeases = AttemptLeases()
  /// One circuit breaker per plugin, shared by every run.
  let breakers: CircuitBreakers
  /// The engine's time: every reading and every timer (`EngineClock`).
  let clock: any EngineClock
  /// When the engine was created (uptime).
  let startedAt: ContinuousClock.Instant
  /// The workers connected to this engine's server: the `worker` plugin of
  /// its registry dispatches to them (a run's steps go to the workers of the
  /// server driving it).
  public let workers: WorkerPool
  private let jobs: AsyncStream<Job>
  private let jobSink: AsyncStream<Job>.Continuation
  /// The jobs handed to runner tasks not yet started, by ticket: a runner's
  /// closure captures its ticket, not the job, and the runner moves the
  /// record out of here into its machine (a job captured by the closure
  /// would live as long as the run, and its record would share the steps
  /// with the machine's, copied on the first write: 1.7 KB a run in flight).
  private let handedOver = Mutex<[Int: Job]>([:])

  /// - Parameters:
  ///   - workflows: the definitions runs can be started from.
  ///   - registry: the plugins steps name; every step's plugin must be in it.
  ///   - clock: the clocks of records and timers (a test passes a `ManualClock`).
  public init(
    store: any StateStore, registry: PluginRegistry, workflows: [WorkflowDefinition],
    configuration: EngineConfiguration = EngineConfiguration(), clock: any EngineClock = SystemClock(),
    logger: Logger
  ) {
    self.store = store
    self.clock = clock
    self.startedAt = clock.now
    // Each engine dispatches to its own workers, whatever pool the registry was built with.
    let workers = WorkerPool()
    var registry = registry
    if registry.plugin(named: WorkerPlugin.name) is WorkerPlugin {
      registry.replace(WorkerPlugin.name, with: WorkerPlugin(pool: workers))
    }
    self.workers = workers
    self.registry = registry
    self.workflows = Dictionary(workflows.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    self.configuration = configuration
    self.machineLimits = Self.machineLimits(configuration)
    self.logger = logger
    self.breakers = CircuitBreakers(
      policies: configuration.circuitBreakers, defaultPolicy: configuration.defaultCircuitBreaker)
    (self.jobs, self.jobSink) = AsyncStream.makeStream(of: Job.self)
  }

  /// The names of the workflows runs can be started from.
  public var workflowNames: [String] { workflows.keys.sorted() }

  /// Drives runs until `beginShutdown()` and every runner has stopped; and,
  /// unless turned off, runs the recovery loop (`recoverOrphanedRuns`) until
  /// `beginShutdown()`.
  public func run() async {
    await withTaskGroup(of: Void.self) { keeper in
      // Renews the leases of attempts in flight until every runner has stopped.
      keeper.addTask { await self.keepAttemptLeases() }
      await withDiscardingTaskGroup { runners in
        await withTaskGroup(of: Void.self) { loops in
          if let interval = configuration.recoveryInterval {
            loops.addTask { await self.recoverOrphanedRuns(every: interval) }
          }
          // Each run's driver prefers one of the executors in turn (the
          // server's event loops): its Redis round trips then resume it on
          // the thread that read their replies, with no hop between threads.
          // A run at a worker step prefers the loop of the worker's feed
          // instead: its tasks and their answers need no hop either.
          let executors = configuration.laneExecutors
          var next = 0
          for await job in jobs {
            let executor = workerLane(of: job.record) ?? (executors.isEmpty ? nil : executors[next % executors.count])
            let ticket = next
            next &+= 1
            handedOver.withLock { $0[ticket] = job }
            runners.addTask(executorPreference: executor) { await self.drive(ticket) }
          }
          loops.cancelAll()
        }
      }
      keeper.cancelAll()
    }
  }

  /// Where the worker that would run a sequential run's step at its cursor
  /// writes its feed, when that step is a `worker` step and a worker serves it.
  private func workerLane(of record: RunRecord) -> (any TaskExecutor)? {
    guard record.definition.parallelism == nil, record.definition.steps.indices.contains(record.cursor) else { return nil }
    let step = record.definition.steps[record.cursor]
    guard step.plugin == WorkerPlugin.name, let settings = try? WorkerPlugin.Settings(step.config) else { return nil }
    return workers.executor(serving: settings.task(of: step.name))
  }

  /// The lease keeper of every attempt in flight (`AttemptLeases.keep`),
  /// renewing through the store; each renewal is bounded by the store's own
  /// deadline (`--redis-timeout` for Redis).
  private func keepAttemptLeases() async {
    let lease = configuration.leaseDuration
    let runTTL = configuration.retention(nil)
    await attemptLeases.keep(lease: lease, clock: clock) { entry in
      try? await self.store.renewLease(workflowID: entry.workflowID, fence: entry.fence, ttl: lease, runTTL: runTTL)
    }
  }

  /// Stops taking runs. Runners finish the step in flight, commit it, and
  /// stop before the next one, releasing their leases; `run()` returns when
  /// all have stopped. Cancelling `run()`'s task cancels steps still in flight:
  /// they are not committed, and the run is left for a resume.
  public func beginShutdown() {
    state.withLock { $0.draining = true }
    jobSink.finish()
  }

  /// The number of runs this engine is driving now.
  public var activeRuns: Int { state.withLock { $0.active.count } }

  // MARK: - Requests

  /// Starts a run of `workflow`.
  /// - Parameters:
  ///   - workflowID: the caller's id for the run, or nil for a new UUID.
  ///   - input: the workflow's input as JSON text; empty means `null`.
  ///   - wait: return when the run is COMPLETED or FAILED, not at once.
  ///   - budgetMicros: the run's budget, over the workflow's `budget_usd` (nil: the workflow's).
  public func start(
    workflow: String, workflowID: String?, input: [UInt8], wait: Bool,
    onConflict: OnExistingRun = .fail, budgetMicros: Int64? = nil
  ) async throws(EngineError) -> StartResult {
    let definition = try await definition(of: workflow)
    guard !definition.steps.isEmpty else {
      // Servers validate their definitions at start-up; an engine built by hand may not have.
      throw EngineError(.failedPrecondition, "workflow '\(workflow)' has no steps; give it at least one")
    }
    let id = workflowID.flatMap { $0.isEmpty ? nil : $0 } ?? RandomText.uuid()
    if let problem = WorkflowID.problem(with: id) { throw EngineError(.invalidArgument, problem) }
    let inputBytes = input.isEmpty ? Array("null".utf8) : input
    let inputLimit = definition.maxInputBytes ?? configuration.maximumInputBytes
    guard inputBytes.count <= inputLimit else {
      throw EngineError(
        .resourceExhausted,
        "the input of workflow '\(workflow)' is \(inputBytes.count) bytes; the limit is \(inputLimit) bytes — no run was started")
    }
    do {
      try JSONValue.validate(inputBytes)
    } catch {
      throw EngineError(.invalidArgument, "the input is not valid JSON: \(error.message)")
    }
    try checkAcceptingRuns()

    let timing = writeTiming()
    let firstStep = StepProgress().beginningAttempt(at: timing.nowMs)
    let budget = budgetMicros ?? definition.budgetMicros
    let run = NewRun(
      workflowID: id, definition: definition, input: inputBytes, firstStep: firstStep, timing: timing, budgetMicros: budget)
    let outcome = try await EngineError.answering(about: id) { try await store.create(run) }
    switch outcome {
    case .exists:
      let existing = try await loadExisting(id)
      guard existing.workflowName == workflow else {
        throw EngineError(
          .alreadyExists,
          "a run with id '\(id)' exists already for workflow '\(existing.workflowName)', not '\(workflow)'; choose another id")
      }
      switch onConflict {
      case .fail:
        throw EngineError(
          .alreadyExists,
          "a run with id '\(id)' exists already (status \(existing.status.rawValue), workflow '\(existing.workflowName)'); resume it, or start with the conflict policy USE_EXISTING")
      case .useExisting:
        return StartResult(
          record: try await follow(id, wait: wait, resumeFailed: false, known: existing), created: false)
      }
    case .created(let fence):
      var steps = Array(repeating: StepProgress(), count: definition.steps.count)
      steps[0] = firstStep
      var record = RunRecord(
        workflowID: id, definition: definition, status: .running, cursor: 0, steps: steps,
        ledger: RunLedger(), input: inputBytes, createdAtMs: timing.nowMs, updatedAtMs: timing.nowMs,
        expiresAtMs: timing.nowMs + timing.ttlMs, fence: fence)
      record.budgetMicros = budget
      logger.info("run started", metadata: ["workflow_id": "\(id)", "workflow": "\(workflow)"])
      let completion = try await submit(record)
      return StartResult(record: try await finish(record, completion: completion, wait: wait), created: true)
    }
  }

  /// Continues a run: a FAILED run at its failed step, a RUNNING run nobody
  /// drives (its server died and its lease lapsed) at its interrupted step.
  /// A COMPLETED run is returned as it is and nothing runs; a run driven by
  /// this server is attached to; a run driven elsewhere is followed until it
  /// ends (or, with `wait` false, returned as it is now).
  ///
  /// With `fromStep`, a COMPLETED or FAILED run runs again from that step instead
  /// (see `rerun`).
  public func resume(workflowID: String, wait: Bool, fromStep: String? = nil) async throws(EngineError) -> RunRecord {
    if let problem = WorkflowID.problem(with: workflowID) { throw EngineError(.invalidArgument, problem) }
    if let fromStep, !fromStep.isEmpty { return try await rerun(workflowID: workflowID, from: fromStep, wait: wait) }
    return try await follow(workflowID, wait: wait, resumeFailed: true, known: nil)
  }

  /// Waits for run `id` to end, driving it whenever it needs a runner and its
  /// lease is free. A FAILED run is resumed only when `resumeFailed`.
  /// - Parameter known: the run as just read by the caller, to save a read.
  private func follow(_ id: String, wait: Bool, resumeFailed: Bool, known: RunRecord?) async throws(EngineError) -> RunRecord {
    var known = known
    while true {
      let existing: RunRecord
      var leaseHeld = false
      if let record = known {
        existing = record
        known = nil
      } else if resumeFailed, acceptsRun(id) {
        // One round trip where the store can: check, lease, resume, begin.
        // (A run driven here, or a server at capacity or shutting down, takes
        // the general path: it begins nothing and answers as it always has.)
        // Retried while Redis is unreachable, as one operation: a repeat of a
        // resume whose reply was lost returns its first outcome.
        let request = ResumeRequest(workflowID: id, plugins: registry.names, timing: writeTiming())
        let outcome = try await EngineError.answering(about: id) {
          try await retryingStore { try await self.store.resume(request) }
        }
        switch outcome {
        case .notFound:
          throw .runNotFound(id)
        case .resumed(let record, _, let saved, let lapsed):
          return try await startRunner(resumed: record, savedMicros: saved, fromLapsedLease: lapsed, wait: wait)
        case .missingPlugin(_, let plugin):
          throw EngineError(
            .failedPrecondition,
            "run '\(id)' needs plugin '\(plugin)', which this server does not have; resume it on a server that has it")
        case .held(let record):
          existing = record
          leaseHeld = true
        case .ended(let record), .general(let record):
          existing = record
        }
      } else {
        existing = try await loadExisting(id)
      }
      switch existing.status {
      case .completed:
        return existing
      case .cancelled:
        guard resumeFailed else { return existing }
        throw EngineError(.failedPrecondition, "run '\(id)' was cancelled and cannot be resumed; start a new run")
      case .awaitingApproval:
        guard resumeFailed else { return existing }
        throw EngineError(.failedPrecondition, "run '\(id)' is awaiting approval; approve or reject it instead")
      case .awaitingBudget:
        guard resumeFailed else { return existing }
        throw EngineError(
          .failedPrecondition,
          "run '\(id)' is awaiting budget: \(existing.approval?.budget.map { $0.message(step: existing.approval?.stepName ?? "") } ?? "its budget is spent"); raise its budget (resumable budget \(id) --raise-to USD) or reject it")
      case .failed:
        guard resumeFailed else { return existing }
      case .running:
        break
      }
      if let completion = state.withLock({ $0.active[id] }) {
        return try await finish(existing, completion: completion, wait: wait)
      }
      try checkAcceptingRuns()
      let lease =
        leaseHeld
        ? LeaseOutcome.held
        : try await EngineError.answering(about: id) {
          try await store.acquireLease(workflowID: id, ttl: configuration.leaseDuration)
        }
      switch lease {
      case .notFound:
        throw .runNotFound(id)
      case .acquired(let fence):
        return try await takeOver(id, fence: fence, wait: wait, resumeFailed: resumeFailed)
      case .held:
        // Another runner (here or on another server) drives it: follow it,
        // and take over if its lease lapses (its server died).
        guard wait else { return existing }
        do {
          try await clock.sleep(for: configuration.remotePollInterval)
        } catch {
          throw EngineError(.deadlineExceeded, "the call ended before run '\(id)' did; it goes on — ask for its state later")
        }
      }
    }
  }

  /// Drives run `id`, whose lease we have just taken: records the resume and
  /// begins a new attempt of the step at the cursor.
  func takeOver(_ id: String, fence: UInt64, wait: Bool, resumeFailed: Bool) async throws(EngineError) -> RunRecord {
    // Read the run again: it may have moved since it was last read.
    var record: RunRecord
    var saved: Int64 = 0
    let leaseLapsed: Bool
    do {
      guard let fresh = try await store.load(workflowID: id, includeArtifacts: false) else {
        throw StoreError(.notFound, "")
      }
      record = fresh
      leaseLapsed = record.status == .running
      guard record.status == .running || (record.status == .failed && resumeFailed) else {
        try? await store.releaseLease(workflowID: id, fence: fence, runEnded: record.status.isTerminal)
        return record
      }
      // A server without a plugin the rest of the run needs leaves it to one that has it
      // (in a mixed fleet), rather than failing it.
      if let plugin = registry.firstMissingPlugin(of: record.definition.steps[record.cursor...]) {
        try? await store.releaseLease(workflowID: id, fence: fence, runEnded: false)
        try? await store.deferRecovery(workflowID: id, by: configuration.leaseDuration)
        throw EngineError(
          .failedPrecondition,
          "run '\(id)' needs plugin '\(plugin)', which this server does not have; resume it on a server that has it")
      }
      do {
        // At capacity (or shutting down), nothing is begun: no resume is
        // counted and no attempt spent; the run is looked at again later.
        try checkAcceptingRuns()
      } catch {
        try? await store.releaseLease(workflowID: id, fence: fence, runEnded: false)
        try? await store.deferRecovery(workflowID: id, by: configuration.leaseDuration)
        throw error
      }
      let begin = record.resume(fence: fence, timing: writeTiming())
      // Retried while Redis is unreachable: a repeat of a begin whose reply
      // was lost is replayed by the store (its operation id), never counted twice.
      try await retryingStore { try await self.store.beginAttempt(begin) }
      saved = begin.resume?.savedMicros ?? 0
    } catch let error as EngineError {
      throw error  // The lease is handled already.
    } catch {
      try? await store.releaseLease(workflowID: id, fence: fence, runEnded: false)
      throw EngineError(error, workflowID: id)
    }
    return try await startRunner(resumed: record, savedMicros: saved, fromLapsedLease: leaseLapsed, wait: wait)
  }

  /// Hands a run just resumed (its lease held, its resume and attempt stored) to a runner.
  private func startRunner(resumed record: RunRecord, savedMicros: Int64, fromLapsedLease: Bool, wait: Bool)
    async throws(EngineError) -> RunRecord
  {
    EngineMetrics.tookOver(workflow: record.workflowName, fromLapsedLease: fromLapsedLease, savedMicros: savedMicros)
    logger.info(
      "run resumed",
      metadata: [
        "workflow_id": "\(record.workflowID)", "step": "\(record.currentStepName)",
        "attempt": "\(record.steps[record.cursor].attempts)", "skipped_steps": "\(record.cursor)",
        "saved_micros": "\(savedMicros)",
      ])
    let completion = try await submit(record)
    return try await finish(record, completion: completion, wait: wait)
  }

  /// Reads a run's state.
  /// - Parameter includeInput: false leaves the workflow's input out (what `GetState` does not show).
  public func state(
    workflowID: String, includeArtifacts: Bool, includeHistory: Bool = false, includeInput: Bool = true
  ) async throws(EngineError) -> RunRecord {
    if let problem = WorkflowID.problem(with: workflowID) { throw EngineError(.invalidArgument, problem) }
    let record = try await EngineError.answering(about: workflowID) {
      try await store.load(
        workflowID: workflowID, includeArtifacts: includeArtifacts, includeHistory: includeHistory,
        includeInput: includeInput)
    }
    guard let record else { throw .runNotFound(workflowID) }
    return record
  }

  // MARK: - Recovery

  /// The recovery loop: every `interval`, takes over the RUNNING runs whose
  /// runner's lease has lapsed — their server died or stalled mid-step — and
  /// drives them from the step that was in flight (its next attempt, with a
  /// new idempotency key). Any number of servers may run it against one
  /// store: the lease decides which of them adopts a run.
  ///
  /// Ends when the task is cancelled (`run()` does so at shutdown).
  func recoverOrphanedRuns(every interval: Duration) async {
    var storeDown = false
    var trimFrom = 0
    while !Task.isCancelled {
      do {
        try await recoverDueRuns()
        // The list of runs loses the entries of expired runs here, a bounded
        // slice per pass, rather than only when someone lists.
        trimFrom = try await store.trimRunList(from: trimFrom, limit: 200).next
        if storeDown {
          logger.notice("recovery: the store is reachable again")
          storeDown = false
        }
      } catch {
        if !storeDown {
          logger.warning("recovery: cannot look for orphaned runs, will retry every \(interval): \(error)")
          storeDown = true
        }
      }
      try? await clock.sleep(for: interval)
    }
  }

  /// One pass of the recovery loop over the runs whose check is due.
  /// - Returns: how many runs this pass took over.
  @discardableResult
  func recoverDueRuns() async throws(StoreError) -> Int {
    let batch = 100
    var recovered = 0
    // A bounded pass: what is left is due again on the next one.
    for _ in 0..<10 {
      let candidates = try await store.recoveryCandidates(limit: batch)
      for candidate in candidates {
        let id = candidate.workflowID
        guard !Task.isCancelled, !state.withLock({ $0.draining }) else { return recovered }
        // A server at capacity claims nothing: a claim it could not drive
        // would only bump the run's token and leave it due again at once.
        guard activeRuns < configuration.maximumActiveRuns else { return recovered }
        if state.withLock({ $0.active[id] != nil }) {
          // Ours, and running: look again when its lease could next lapse.
          try await store.deferRecovery(workflowID: id, by: configuration.leaseDuration)
          continue
        }
        guard case .acquired(let fence) = try await store.claimForRecovery(
          candidate, lease: configuration.leaseDuration, failedRetention: configuration.retention(.failed)) else {
          continue
        }
        logger.notice("recovering a run whose runner stopped (its lease lapsed)", metadata: ["workflow_id": "\(id)"])
        do {
          let record = try await takeOver(id, fence: fence, wait: false, resumeFailed: false)
          EngineMetrics.recovered(workflow: record.workflowName)
          recovered += 1
        } catch {
          logger.warning("recovery of the run failed; it stays due: \(error)", metadata: ["workflow_id": "\(id)"])
        }
      }
      if candidates.count < batch { break }
    }
    return recovered
  }

  // MARK: - Request helpers

  /// Whether the engine is shutting down.
  var isDraining: Bool { state.withLock { $0.draining } }

  /// Whether a runner could start for run `id` now: not driven here, and room for it.
  private func acceptsRun(_ id: String) -> Bool {
    state.withLock { $0.active[id] == nil } && (try? checkAcceptingRuns()) != nil
  }

  func checkAcceptingRuns() throws(EngineError) {
    let (draining, active) = state.withLock { ($0.draining, $0.active.count) }
    if draining {
      throw EngineError(.unavailable, "the server is shutting down; send the request to another server or retry after restart")
    }
    if active >= configuration.maximumActiveRuns { throw .tooManyRuns(configuration.maximumActiveRuns) }
  }

  func loadExisting(_ id: String) async throws(EngineError) -> RunRecord {
    let record = try await EngineError.answering(about: id) { try await store.load(workflowID: id, includeArtifacts: false) }
    guard let record else { throw .runNotFound(id) }
    return record
  }

  /// Hands a run (whose lease we hold) to a runner task.
  func submit(_ record: RunRecord) async throws(EngineError) -> RunCompletion {
    let completion = RunCompletion()
    let maximum = configuration.maximumActiveRuns
    let accepted = state.withLock { state -> Bool? in
      guard state.active.count < maximum else { return nil }
      guard !state.draining, state.active[record.workflowID] == nil else { return false }
      state.active[record.workflowID] = completion
      return true
    }
    if accepted == true, case .enqueued = jobSink.yield(Job(record: record, completion: completion)) {
      return completion
    }
    if accepted == true { _ = state.withLock { $0.active.removeValue(forKey: record.workflowID) } }
    try? await store.releaseLease(workflowID: record.workflowID, fence: record.fence, runEnded: false)
    if accepted == nil {
      throw EngineError(
        .resourceExhausted,
        EngineError.tooManyRuns(maximum).message + " — the run '\(record.workflowID)' is saved; resume it then")
    }
    throw EngineError(.unavailable, "the server is shutting down; retry after restart — the run '\(record.workflowID)' is saved and resumable")
  }

  /// Returns `record` at once, or the stored run after its runner stops.
  func finish(_ record: RunRecord, completion: RunCompletion, wait: Bool) async throws(EngineError) -> RunRecord {
    guard wait else { return record }
    let final: RunRecord?
    do {
      final = try await completion.wait()
    } catch {
      throw EngineError(.deadlineExceeded, "the call ended before run '\(record.workflowID)' did; it goes on — ask for its state later")
    }
    if let final { return final }
    return try await loadExisting(record.workflowID)
  }

  /// The clock and expiries of a write; `ending` names the status a write that ends
  /// the run gives it, whose retention then sets the expiry.
  func writeTiming(ending: RunRecord.Status? = nil) -> WriteTiming {
    WriteTiming(
      nowMs: clock.epochMilliseconds, ttlMs: configuration.retention(ending).wholeMilliseconds,
      leaseMs: configuration.leaseDuration.wholeMilliseconds)
  }

  // MARK: - The runner

  /// Drives the run of the job handed over with `ticket` (whose lease the job
  /// holds), until it completes, fails, loses its lease, or the engine shuts
  /// down: performs what the run's `StepMachine` decides, and tells it what
  /// came of it.
  ///
  /// What a run in flight holds is mostly this task's frames (`drive`,
  /// `perform`, the action being performed) and the attempt's child task:
  /// each is kept small, and no large function is inlined into them.
  ///
  /// Its frame, and those of the functions it awaits, live as long as the
  /// run: they hold the machine once and the record not at all (anything a
  /// sync helper reads from them is read in that helper, on the thread's
  /// stack). docs/Design.md, "What a run in flight holds".
  @inline(never)
  private func drive(_ ticket: Int) async {
    let (id, completion, parallel) = outline(of: ticket)
    EngineMetrics.runsInFlight.increment()
    defer { driveEnded(id, completion: completion) }
    let logger = runLogger(id)
    if parallel {
      await driveInParallel(ticket, completion: completion, logger: logger)
    } else {
      await driveInOrder(ticket, completion: completion, logger: logger)
    }
  }

  @inline(never)
  private func outline(of ticket: Int) -> (id: String, completion: RunCompletion, parallel: Bool) {
    handedOver.withLock { jobs in
      let job = jobs[ticket]!
      return (job.record.workflowID, job.completion, job.record.definition.parallelism != nil)
    }
  }

  /// The record of the job handed over with `ticket`, moved out of `handedOver`.
  @inline(never)
  private func takeRecord(_ ticket: Int) -> RunRecord {
    handedOver.withLock { $0.removeValue(forKey: ticket)! }.record
  }

  /// A drive has ended: its waiters are answered (if the drive has not answered them).
  @inline(never)
  private func driveEnded(_ id: String, completion: RunCompletion) {
    leaveActive(id, completion: completion)
    completion.finish()
    EngineMetrics.runsInFlight.decrement()
  }

  /// The engine's logger, labelled with the run's id.
  @inline(never)
  private func runLogger(_ id: String) -> Logger {
    var logger = self.logger
    logger[metadataKey: "workflow_id"] = "\(id)"
    return logger
  }

  /// The machine of a sequential drive of the job handed over with `ticket`:
  /// the only holder of the record, so the machine writes its steps in place.
  @inline(never)
  private func machine(for ticket: Int) -> HeldMachine {
    HeldMachine(StepMachine(record: takeRecord(ticket), limits: machineLimits))
  }

  /// A parallel drive (`driveParallel`); its copy of the record is in this
  /// frame, not in `drive`'s.
  @inline(never)
  private func driveInParallel(_ ticket: Int, completion: RunCompletion, logger: Logger) async {
    await driveParallel(takeRecord(ticket), completion: completion, logger: logger)
  }

  /// A sequential drive: its machine, performed to its end. A function of its
  /// own, so that the frame that lives as long as the run holds one machine
  /// and no copy of the record.
  @inline(never)
  private func driveInOrder(_ ticket: Int, completion: RunCompletion, logger: Logger) async {
    let held = machine(for: ticket)
    let end = await perform(&held.machine, logger: logger)
    await ended(end, of: &held.machine, completion: completion, logger: logger)
  }

  /// A sequential drive's machine, on the heap: in `driveInOrder`'s frame it
  /// made that frame 864 bytes, and the runner's task allocator (1,000-byte
  /// slabs) packed the frames below it worse (a slab more a run in flight).
  private final class HeldMachine {
    var machine: StepMachine
    init(_ machine: StepMachine) { self.machine = machine }
  }

  /// What follows the end of a sequential drive: the approval it asks for, the
  /// answer to its waiters, the release of its lease. Never inlined into `drive`,
  /// whose frame lives as long as the drive (`perform`).
  @inline(never)
  private func ended(_ end: MachineEnd, of machine: inout StepMachine, completion: RunCompletion, logger: Logger) async {
    let id = machine.record.workflowID
    var stepLogger = logger
    stepLogger[metadataKey: "step"] = "\(machine.step.name)"
    stepLogger[metadataKey: "attempt"] = "\(machine.record.steps[machine.index].attempts)"
    switch end {
    case .askApproval(let kind, let stepState, let held):
      var record = machine.record
      await askApproval(&record, index: machine.index, kind: kind, state: stepState, held: held, logger: stepLogger)
    case .complete(let record):
      logger.info("run completed", metadata: ["spent_micros": "\(record.ledger.spentMicros)"])
      // The commit made the run COMPLETED for good: callers waiting on it
      // get their answer now, with the record as stored (no reload).
      completion.finish(with: record)
      await release(record)
    case .stop(let release, let why):
      log(why, logger: stepLogger)
      if release { await self.release(machine.record) }
      // The failure's write made the run FAILED: waiters get the runner's copy,
      // once the run is no longer ours (a resume they send next finds it free).
      if why == .failed { endedDrive(id, completion: completion, with: machine.record) }
    case .branchEnded:
      preconditionFailure("a branch ended in a run that is not parallel")
    }
  }

  /// Answers the waiters of a drive that has given its run up: it leaves the
  /// active runs first, so a caller that resumes the run at once finds no
  /// runner to wait for.
  func endedDrive(_ id: String, completion: RunCompletion, with record: RunRecord) {
    leaveActive(id, completion: completion)
    completion.finish(with: record)
  }

  /// Removes a drive from the active runs, unless a newer drive of the run
  /// (a resume that came in as this one ended) has taken its place.
  private func leaveActive(_ id: String, completion: RunCompletion) {
    state.withLock { state in
      if state.active[id] === completion { state.active.removeValue(forKey: id) }
    }
  }

  /// The step machine's settings, from the engine's configuration.
  /// Made once: its `ttlMs` closure captures the configuration, and a closure
  /// made per machine cost every run in flight 300 bytes.
  let machineLimits: StepMachine.Limits

  private static func machineLimits(_ configuration: EngineConfiguration) -> StepMachine.Limits {
    StepMachine.Limits(
      maximumArtifactBytes: configuration.maximumArtifactBytes,
      maximumHistoryMessages: configuration.maximumHistoryMessages,
      ttlMs: { configuration.retention($0).wholeMilliseconds },
      leaseMs: configuration.leaseDuration.wholeMilliseconds)
  }

  /// Logs why a drive (or a branch) stopped.
  func log(_ why: StepMachine.StopReason, logger: Logger) {
    switch why {
    case .shuttingDown: logger.info("shutting down: run left at this step for a resume or another server")
    case .attemptCancelled: logger.notice("attempt cancelled (shutdown); not committed, the step runs again on resume")
    case .leaseLost: logger.warning("lease lost during the attempt; its result is discarded")
    case .inputsUnavailable(let message):
      logger.warning("cannot read the step's inputs or history: \(message); run left for a resume")
    case .writeRefused, .awaitingApproval, .failed: break
    }
  }

  /// How performing a machine's actions ended: the actions that end a drive.
  /// Indirect, as `StepMachine.Action`: one pointer in the driver's frame.
  indirect enum MachineEnd: Sendable {
    case askApproval(ApprovalKind, state: StepProgress, held: (output: StepOutput, step: StepProgress)?)
    case complete(RunRecord)
    case stop(release: Bool, why: StepMachine.StopReason)
    case branchEnded(StepMachine.BranchEnd)

    /// The end an action that ends a drive says.
    @inline(never)
    init(_ action: StepMachine.Action) {
      switch action {
      case .askApproval(let kind, let state, let held): self = .askApproval(kind, state: state, held: held)
      case .complete(let record): self = .complete(record)
      case .stop(let release, let why): self = .stop(release: release, why: why)
      case .branchEnded(let end): self = .branchEnded(end)
      case .readInputs, .admit, .run, .write, .sleep, .proceed: preconditionFailure("\(action) does not end a drive")
      }
    }

    /// Whether the drive lets go of the shared limiters it holds first.
    var releasesHeld: Bool {
      switch self {
      case .askApproval, .stop: true
      case .complete, .branchEnded: false
      }
    }
  }

  /// What a drive holds from one action to the next besides its machine.
  struct Holdings {
    /// The run's spending (a parallel run's branches share it).
    let spend: RunSpend
    /// Whether the run's attempts are estimated first (a budget or a spend cap).
    let controlled: Bool
    /// The estimate reserved for the attempt about to run (0: none).
    var reserved: Int64 = 0
    /// The shared limiters the attempt about to run holds.
    var held = HeldLimits()
    /// Since when the step at the cursor has waited for its plugin to be ready.
    var unready: (index: Int, since: ContinuousClock.Instant)? = nil

    /// Settles the reserved estimate against what the attempt `charged` (0: none ran);
    /// nothing is reserved after.
    mutating func settleReserved(charged: Int64 = 0) {
      guard reserved != 0 || charged != 0 else { return }
      spend.settle(reserved, charged: charged)
      reserved = 0
    }
  }

  /// Performs what `machine` decides (store writes, the plugin's attempts,
  /// sleeps) and tells it what came of it, until it ends its drive.
  ///
  /// Each action is performed by a function of its own, never inlined here, and
  /// given the machine `inout` (its address, not a 1,256-byte copy): an async
  /// function's frame holds every value any of its branches keeps across a
  /// suspension, and this frame lives as long as the drive — it held 26 KB per
  /// run in flight when the actions were performed inline.
  /// - Parameters:
  ///   - committed: artifacts committed before (a parallel run's branches read their inputs there first).
  ///   - prepare: last touches to a write before it is made (a branch's commit: the run's cursor now).
  ///   - spend: the run's spending, shared by a parallel run's branches (nil: this drive's own).
  func perform(
    _ machine: inout StepMachine, logger: Logger, committed: [String: [UInt8]] = [:], spend: RunSpend? = nil,
    prepare: (StepMachine.Write) -> StepMachine.Write = { $0 }
  ) async -> MachineEnd {
    let registry = self.registry
    let registered: @Sendable (String) -> Bool = { registry.plugin(named: $0) != nil }
    // What came of the last action; nil: the step at the cursor may begin.
    var event: StepMachine.Event? = nil
    var holdings = Holdings(
      spend: spend ?? RunSpend(spent: machine.record.ledger.spentMicros), controlled: needsEstimate(machine.record))
    defer { holdings.settleReserved() }

    // The logger of the step being driven, labelled with its name and attempt;
    // labelled again only when they change (a handler renders its metadata at each label).
    var stepLogger = logger
    var labelled: (index: Int, attempt: UInt32)?

    while true {
      let action = machine.handle(
        event ?? .next(draining: isDraining, registered: registered), nowMs: clock.epochMilliseconds)
      Self.label(&stepLogger, from: logger, for: &machine, labelled: &labelled)
      // The action goes whole (one pointer) to the function that performs
      // it, which takes its payload apart: a payload bound here would be a
      // copy in this frame, which lives as long as the drive.
      if case .run = action {
        // Moved, not shared: the attempt's driver lets go of it before the
        // attempt (the box holds the step's definition, 328 bytes a run).
        event = await performRun(consume action, machine: &machine, holdings: &holdings, logger: stepLogger)
        continue
      }
      switch action {
      case .readInputs:
        event = await performReadInputs(action, machine: &machine, committed: committed)
      case .admit:
        event = await performAdmit(action, machine: &machine, holdings: &holdings, logger: stepLogger)
      case .run:
        preconditionFailure("performed above")
      case .write:
        event = await performWrite(
          action, prepare: prepare, machine: &machine, controlled: holdings.controlled, logger: stepLogger)
      case .sleep:
        event = await performSleep(action, machine: &machine)
      case .proceed:
        event = nil
      case .askApproval, .complete, .stop, .branchEnded:
        let end = MachineEnd(action)
        if end.releasesHeld { await releaseHeld(&holdings, logger: stepLogger) }
        return end
      }
    }
  }

  /// Labels `stepLogger` (a copy of `logger`) with the step being driven and its attempt,
  /// unless it is labelled with them already.
  @inline(never)
  private static func label(
    _ stepLogger: inout Logger, from logger: Logger, for machine: inout StepMachine,
    labelled: inout (index: Int, attempt: UInt32)?
  ) {
    let attempt = machine.record.steps[machine.index].attempts
    guard labelled?.index != machine.index || labelled?.attempt != attempt else { return }
    stepLogger = logger
    stepLogger[metadataKey: "step"] = "\(machine.step.name)"
    stepLogger[metadataKey: "attempt"] = "\(attempt)"
    labelled = (machine.index, attempt)
  }

  /// `.readInputs`: the step's inputs (this drive's artifacts first, then `committed`) and history.
  @inline(never)
  private func performReadInputs(
    _ action: StepMachine.Action, machine: inout StepMachine, committed: [String: [UInt8]]
  ) async -> StepMachine.Event {
    return .inputs(await readInputs(Self.inputsPlan(action, machine: &machine, committed: committed)))
  }

  /// What a step's inputs and history are read from, taken from a
  /// `.readInputs` action and the machine in a sync function (the frames of
  /// the read hold this, not the step and the record).
  struct InputsPlan {
    /// The declared inputs at hand: the workflow's input, artifacts committed before.
    var known: [String: [UInt8]]
    /// The declared inputs to read from the store.
    var missing: [String]
    var workflowID: String
    /// How many of the newest history messages the step is given (0: none; nil: all).
    var newestHistory: Int?
  }

  @inline(never)
  private static func inputsPlan(
    _ action: StepMachine.Action, machine: inout StepMachine, committed: [String: [UInt8]]
  ) -> InputsPlan {
    guard case .readInputs(let step) = action else { preconditionFailure("not a readInputs: \(action)") }
    var plan = InputsPlan(
      known: [:], missing: [], workflowID: machine.record.workflowID, newestHistory: step.history.newestCount)
    for name in step.inputs {
      if name == StepDefinition.workflowInputName {
        plan.known[name] = machine.record.input
      } else if let bytes = machine.committed[name] ?? committed[name] {
        // This drive's artifacts first, then `committed` (a parallel run's branches).
        plan.known[name] = bytes
      } else {
        plan.missing.append(name)
      }
    }
    return plan
  }

  /// Whether the machine's step names shared limits.
  private static func stepNamesLimits(_ machine: inout StepMachine) -> Bool { !machine.step.limits.isEmpty }

  /// `.admit`: the plugin's readiness, the run's spending, the shared limits, then the circuit.
  ///
  /// The machine goes to every helper `inout` (by address): a `StepMachine`
  /// or a step passed by value here is a temporary in this async frame, which
  /// the runner keeps for the whole drive (4 machines and 3 records made it 5.9 KB).
  @inline(never)
  private func performAdmit(
    _ action: StepMachine.Action, machine: inout StepMachine, holdings: inout Holdings, logger: Logger
  ) async -> StepMachine.Event {
    guard case .admit(let plugin) = action else { preconditionFailure("not an admit: \(action)") }
    if let wait = readinessWait(&machine, unready: &holdings.unready) {
      return .admission(wait, remaining: Self.readinessPoll)
    }
    // Admitted before, then held back (an open circuit): estimated again now.
    holdings.settleReserved()
    await releaseHeld(&holdings, logger: logger)
    // Asked of the plugin once per admission, for the budget, the caps and the token limits.
    let estimate = holdings.controlled || needsTokenEstimate(&machine) ? self.estimate(&machine) : AttemptEstimate()
    if holdings.controlled,
      let control = await spendControl(
        &machine, estimate: estimate.costMicros, spend: holdings.spend, reserved: &holdings.reserved, logger: logger)
    {
      return control
    }
    if Self.stepNamesLimits(&machine),
      let wait = await acquireLimits(&machine, tokens: estimate.tokens, held: &holdings.held, logger: logger)
    {
      holdings.settleReserved()
      return wait
    }
    let admission = breakers.admit(plugin, now: clock.now)
    var remaining = Duration.zero
    if case .wait(let until, _) = admission {
      remaining = until - clock.now
      // Held back by the circuit: the limiters are not kept meanwhile.
      await releaseHeld(&holdings, logger: logger)
    }
    return .admission(admission, remaining: remaining)
  }

  /// `.run`: one attempt of the step, its spending settled and its limiters released after.
  @inline(never)
  private func performRun(
    _ action: consuming StepMachine.Action, machine: inout StepMachine, holdings: inout Holdings, logger: Logger
  ) async -> StepMachine.Event {
    let started = DispatchTime.now()
    let renewal = renewingSlots(holdings.held)
    let prepared = prepareAttempt(action, machine: &machine)
    _ = consume action
    let outcome = await self.attempt(prepared)
    renewal?.cancel()
    return await attemptEnded(outcome, machine: &machine, holdings: &holdings, started: started, logger: logger)
  }

  /// What follows an attempt: its spending settled, its limiters released,
  /// its metrics and the circuit told. Its frame exists only once the attempt
  /// has ended (`performRun`'s lives as long as the attempt).
  @inline(never)
  private func attemptEnded(
    _ outcome: StepMachine.AttemptOutcome, machine: inout StepMachine, holdings: inout Holdings,
    started: DispatchTime, logger: Logger
  ) async -> StepMachine.Event {
    let step = machine.step
    let probe = machine.probe
    let usage: StepUsage?
    switch outcome {
    case .succeeded(let output): usage = output.usage
    case .failed(let failure): usage = failure.usage
    case .cancelled, .leaseLost: usage = nil
    }
    holdings.settleReserved(charged: usage?.costMicros ?? 0)
    await releaseHeld(&holdings, used: usage?.totalTokens, logger: logger)
    if case .failed(let failure) = outcome, case .rateLimited(let retryAfter) = failure.errorClass, !step.limits.isEmpty {
      await holdLimits(of: step, record: machine.record, retryAfter: retryAfter, logger: logger)
    }
    let failed = if case .failed = outcome { true } else { false }
    EngineMetrics.stepAttempt(workflow: machine.record.workflowName, step: step, failed: failed, since: started)
    breakers.record(step.plugin, outcome.breakerOutcome, probe: probe, now: clock.now)
    return .attemptEnded(outcome)
  }

  /// `.write`: makes the write, then logs it, counts it and, when the run's spending is
  /// `controlled`, records what it charged.
  @inline(never)
  private func performWrite(
    _ action: StepMachine.Action, prepare: (StepMachine.Write) -> StepMachine.Write, machine: inout StepMachine,
    controlled: Bool, logger: Logger
  ) async -> StepMachine.Event {
    let write = Self.planned(action, prepare: prepare)
    let ok = await self.write(logger: logger) { try await self.perform(write) }
    let charge = written(write, ok: ok, controlled: controlled, machine: &machine, logger: logger)
    if !charge.isEmpty { await recordSpend(write.chargedMicros, to: charge, logger: logger) }
    return .written(ok)
  }

  /// The write a `.write` action plans, with its last touches.
  @inline(never)
  private static func planned(
    _ action: StepMachine.Action, prepare: (StepMachine.Write) -> StepMachine.Write
  ) -> StepMachine.Write {
    guard case .write(let planned) = action else { preconditionFailure("not a write: \(action)") }
    return prepare(planned)
  }

  /// After a write: logs and counts it if it was made (or tells the circuit of a
  /// probe that never began); returns the spend windows it must be added to.
  @inline(never)
  private func written(
    _ write: StepMachine.Write, ok: Bool, controlled: Bool, machine: inout StepMachine, logger: Logger
  ) -> [SpendWindow] {
    if ok {
      report(write, record: machine.record, logger: logger)
      return controlled && write.chargedMicros > 0 ? spendWindows(of: machine.record) : []
    }
    if case .admitting = machine.phase, machine.probe {
      // The probe's attempt never began: the circuit hears nothing of it.
      breakers.record(machine.step.plugin, .neutral, probe: true, now: clock.now)
    }
    return []
  }

  /// `.sleep`: waits holding the lease.
  @inline(never)
  private func performSleep(_ action: StepMachine.Action, machine: inout StepMachine) async -> StepMachine.Event {
    guard case .sleep(let duration) = action else { preconditionFailure("not a sleep: \(action)") }
    let ok = await sleepHoldingLease(workflowID: machine.record.workflowID, fence: machine.record.fence, for: duration)
    return .waited(ok && !isDraining)
  }

  /// Releases the limiters the attempt holds, if any, with the tokens it `used` (nil: none ran).
  private func releaseHeld(_ holdings: inout Holdings, used: UInt64? = nil, logger: Logger) async {
    if !holdings.held.isEmpty { await releaseLimits(&holdings.held, used: used, logger: logger) }
  }

  /// The engine clock's Unix time, in milliseconds.
  public var epochMilliseconds: Int64 { clock.epochMilliseconds }

  /// How often a step waiting for its plugin to be ready asks again.
  static let readinessPoll = Duration.milliseconds(100)

  /// The wait of a step whose plugin cannot start an attempt now (a worker
  /// step with no worker serving its task), or nil to go on to the circuit.
  /// Past the step's `schedule_to_start_ms` the attempt is let through, and
  /// the plugin fails it as retryable.
  private func readinessWait(
    _ machine: inout StepMachine, unready: inout (index: Int, since: ContinuousClock.Instant)?
  ) -> CircuitBreakers.Admission? {
    let (step, index) = (machine.step, machine.index)
    guard case .unavailable(let reason) = registry.plugin(named: step.plugin)?.readiness(stepName: step.name, config: step.config)
    else {
      unready = nil
      return nil
    }
    let now = clock.now
    if unready?.index != index { unready = (index, now) }
    if let bound = step.scheduleToStartMilliseconds, let since = unready?.since, now - since >= .milliseconds(bound) {
      unready = nil
      return nil
    }
    return .wait(until: now + Self.readinessPoll, reason: reason)
  }

  /// Makes one of the runner's writes.
  ///
  /// Each kind of write is made by a function of its own, which takes its
  /// payload out of the (indirect) write: bound here, each of the four
  /// payloads would have a slot in this frame, which is on the deepest chain
  /// of frames a runner has (and its task keeps the slabs of that chain).
  private func perform(_ write: StepMachine.Write) async throws {
    switch write {
    case .begin: try await performBegin(write)
    case .commit: try await performCommit(write)
    case .failure: try await performFailure(write)
    case .wait: try await performWait(write)
    }
  }

  @inline(never)
  private func performBegin(_ write: StepMachine.Write) async throws {
    guard case .begin(let begin) = write else { preconditionFailure("not a begin") }
    try await store.beginAttempt(begin)
  }

  @inline(never)
  private func performCommit(_ write: StepMachine.Write) async throws {
    guard case .commit(let commit) = write else { preconditionFailure("not a commit") }
    try await store.commitStep(commit)
  }

  @inline(never)
  private func performFailure(_ write: StepMachine.Write) async throws {
    guard case .failure(let failure) = write else { preconditionFailure("not a failure") }
    try await store.recordFailure(failure)
  }

  @inline(never)
  private func performWait(_ write: StepMachine.Write) async throws {
    guard case .wait(let wait) = write else { preconditionFailure("not a wait") }
    try await store.recordWait(wait)
  }

  /// Logs and counts a write the store took.
  private func report(_ write: StepMachine.Write, record: RunRecord, logger: Logger) {
    switch write {
    case .begin:
      break
    case .commit(let commit):
      logger.debug("step committed")
      EngineMetrics.committed(workflow: record.workflowName, step: commit.stepName)
      EngineMetrics.charged(workflow: record.workflowName, usage: commit.usage)
    case .failure(let failure):
      EngineMetrics.charged(workflow: record.workflowName, usage: failure.usage)
      if let runError = failure.runError {
        logger.info("run failed: \(runError)")
      } else {
        logger.info("attempt failed, will retry (\(failure.step.waitReason ?? "")): \(failure.step.lastError ?? "")")
      }
    case .wait(let wait):
      logger.notice("step waits: \(wait.step.waitReason ?? "")")
    }
  }

  /// The step's inputs and history, as the machine is told of them.
  private func readInputs(_ plan: InputsPlan) async -> StepMachine.InputsRead {
    do {
      let inputs = try await loadInputs(plan)
      // The run's history as the step's policy lets through (none by default).
      let history =
        plan.newestHistory == 0
        ? []
        : try await retryingStore { try await self.store.history(workflowID: plan.workflowID, newest: plan.newestHistory) }
      return .read(inputs: inputs, history: history)
    } catch let error as StoreError where error.kind == .corrupt {
      return .corrupt(error.message)
    } catch {
      return .unavailable("\(error)")
    }
  }

  /// The step's declared inputs, and nothing else (context pruning).
  private func loadInputs(_ plan: InputsPlan) async throws -> [String: [UInt8]] {
    var inputs = plan.known
    let missing = plan.missing
    if !missing.isEmpty {
      let loaded = try await retryingStore { try await self.store.artifacts(workflowID: plan.workflowID, steps: missing) }
      for name in missing {
        guard let bytes = loaded[name] else {
          throw StoreError(.corrupt, "the artifact of step '\(name)' is missing")
        }
        inputs[name] = bytes
      }
    }
    return inputs
  }

  /// What a plugin is given for attempt `attempt` of the step at `index`.
  func stepContext(
    step: StepDefinition, index: Int, attempt: Int, record: RunRecord, inputs: [String: [UInt8]], history: [HistoryEntry]
  ) -> StepContext {
    let timeout = step.timeoutMilliseconds.map { Duration.milliseconds($0) }
    var context = StepContext(
      workflowID: record.workflowID, workflowName: record.workflowName, stepName: step.name,
      stepIndex: index, attempt: attempt, config: step.config, inputs: inputs,
      deadline: timeout.map { clock.now + $0 }, history: history)
    context.deadlineUnixMilliseconds = timeout.map { clock.epochMilliseconds + $0.wholeMilliseconds }
    context.heartbeatTimeout = step.heartbeatTimeoutMilliseconds.map { .milliseconds($0) }
    context.scheduleToStart = step.scheduleToStartMilliseconds.map { .milliseconds($0) }
    return context
  }

  /// What one attempt needs, taken from a `.run` action and the run's record
  /// (in a sync function: the attempt's frame holds this, not the step and the record).
  /// A class: the attempt's frame and its `async let`'s closure hold one reference,
  /// not a copy of the step's context each.
  final class PreparedAttempt: Sendable {
    /// Registered: the machine asked the registry before it began the step.
    let plugin: any StepPlugin
    let pluginName: String
    let context: StepContext
    let timeout: Duration?
    let workflowID: String
    let fence: UInt64

    init(plugin: any StepPlugin, pluginName: String, context: StepContext, timeout: Duration?, workflowID: String, fence: UInt64) {
      self.plugin = plugin
      self.pluginName = pluginName
      self.context = context
      self.timeout = timeout
      self.workflowID = workflowID
      self.fence = fence
    }
  }

  @inline(never)
  private func prepareAttempt(_ action: StepMachine.Action, machine: inout StepMachine) -> PreparedAttempt {
    let record = machine.record
    guard case .run(let step, let index, let attempt, let inputs, let history) = action else {
      preconditionFailure("not a run: \(action)")
    }
    return PreparedAttempt(
      plugin: registry.plugin(named: step.plugin)!, pluginName: step.plugin,
      context: stepContext(step: step, index: index, attempt: attempt, record: record, inputs: inputs, history: history),
      timeout: step.timeoutMilliseconds.map { Duration.milliseconds($0) }, workflowID: record.workflowID,
      fence: record.fence)
  }

  /// Runs one attempt in a child task, enforcing the timeout; the keeper renews
  /// its lease meanwhile and ends it `.leaseLost` if the lease is lost. The first
  /// end wins (`AttemptEnd`); the plugin's task (and the timeout's) is then
  /// cancelled, and waited for.
  ///
  /// One child task per attempt, and a second only for a step with a timeout,
  /// each an `async let`: its task is allocated in the runner's own task
  /// allocator, with no task group (a task group and a child task created by
  /// one cost 1.9 KB a run in flight more). Leaving the scope of an `async let`
  /// that was not awaited cancels its task and waits for it. This function is
  /// what a run waiting on a long step holds, with its caller's frames, so it
  /// is never inlined into them.
  @inline(never)
  private func attempt(_ prepared: PreparedAttempt) async -> StepMachine.AttemptOutcome {
    let (leaseKey, end) = attemptLeases.register(workflowID: prepared.workflowID, fence: prepared.fence, now: clock.now)
    defer { attemptLeases.unregister(leaseKey) }
    guard let timeout = prepared.timeout else { return await Self.attempt(prepared, end: end) }
    return await Self.attempt(prepared, end: end, timeout: timeout, clock: clock)
  }

  /// An attempt of a step without a timeout: the plugin's task alone. A function
  /// of its own: an `async let` takes about 720 bytes of its frame, and the runner's
  /// task allocator keeps 984-byte slabs; with the lease's registration and the
  /// timeout's call beside it, `attempt`'s frame (1,216 bytes) filled a slab of its
  /// own and the wait for the end took one more (docs/Design.md).
  @inline(never)
  private static func attempt(_ prepared: PreparedAttempt, end: AttemptEnd) async -> StepMachine.AttemptOutcome {
    async let _ = end.end(await execute(prepared))
    return await end.wait()
  }

  /// An attempt of a step with a timeout: the plugin's task and one sleeping
  /// out the timeout.
  @inline(never)
  private static func attempt(
    _ prepared: PreparedAttempt, end: AttemptEnd, timeout: Duration, clock: any EngineClock
  ) async -> StepMachine.AttemptOutcome {
    async let _ = end.end(await execute(prepared))
    async let _ = expire(end, step: prepared.context.stepName, after: timeout, clock: clock)
    return await end.wait()
  }

  /// Ends the attempt as timed out after `timeout`, unless cancelled first.
  private static func expire(_ end: AttemptEnd, step: String, after timeout: Duration, clock: any EngineClock) async {
    guard (try? await clock.sleep(for: timeout)) != nil else { return }
    end.end(.failed(StepFailure("step '\(step)' timed out after \(timeout)", retryable: true)))
  }

  /// The plugin's answer to one attempt, as the machine is told of it.
  private static func execute(_ prepared: PreparedAttempt) async -> StepMachine.AttemptOutcome {
    do {
      return .succeeded(try await prepared.plugin.execute(prepared.context))
    } catch let failure as StepFailure {
      return .failed(failure)
    } catch is CancellationError {
      return .cancelled
    } catch {
      return .failed(StepFailure("plugin '\(prepared.pluginName)' failed: \(error)", retryable: true))
    }
  }

  /// Performs a fenced write, retrying while the store is unreachable.
  /// Returns false when the runner must stop: fenced out, or the store stayed
  /// down past the retry window (the run is then left for recovery).
  func write(logger: Logger, _ operation: () async throws -> Void) async -> Bool {
    do {
      try await retryingStore(operation)
      return true
    } catch {
      Self.logRefused(error, logger: logger)
      return false
    }
  }

  /// Logs a write that did not go through (sync: the log line's temporaries
  /// stay out of the async frames of `write(logger:)`, which runners keep).
  @inline(never)
  private static func logRefused(_ error: StoreError, logger: Logger) {
    switch error.kind {
    case .fenced, .conflict:
      logger.warning("write refused, another runner owns the run: \(error)")
    default:
      logger.error("write failed, run left for recovery: \(error)")
    }
  }

  /// Runs a store operation, retrying with backoff while the store is
  /// unreachable, for up to the retry window.
  ///
  /// A write whose connection dropped may have been applied; retrying it is
  /// safe because the retry carries the same operation id (`WriteTiming`):
  /// the store finds it applied and returns its first outcome, writing
  /// nothing again (no second charge, resume count or event), and the runner
  /// goes on as if the first reply had arrived.
  func retryingStore<T>(_ operation: () async throws -> T) async throws(StoreError) -> T {
    let window = configuration.storeRetryWindow ?? configuration.leaseDuration
    let deadline = clock.now + window
    var delay = Duration.milliseconds(25)
    while true {
      do {
        return try await operation()
      } catch {
        let error = StoreError(error)
        guard error.kind == .unavailable, clock.now + delay < deadline else { throw error }
        try? await clock.sleep(for: delay)
        delay = min(delay * 2, .seconds(1))
      }
    }
  }

  func release(_ record: RunRecord) async {
    try? await store.releaseLease(
      workflowID: record.workflowID, fence: record.fence, runEnded: record.status.isTerminal)
  }
}

extension Duration {
  /// The duration in whole milliseconds (truncated), as the store writes TTLs.
  public var wholeMilliseconds: Int64 {
    let (seconds, attoseconds) = components
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
  }
}
