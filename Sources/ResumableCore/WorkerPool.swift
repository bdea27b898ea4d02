import Metrics
import Synchronization

/// The workers connected to one server, and the step tasks they hold: the
/// broker between the `worker` plugin (an attempt waiting for its result)
/// and the worker calls of the RPC service (a task feed per worker, and the
/// completions, failures and heartbeats that answer its tasks).
///
/// Every task is one attempt. It is given to a worker that declared its task
/// name and has a free slot (the one holding the fewest tasks), or queued in
/// arrival order until one has. An answer is taken only while the attempt
/// waits for it: once the attempt is abandoned — its worker disconnected,
/// its heartbeats stopped, the attempt was cancelled (run cancelled, lease
/// lost, timeout, shutdown) — the task's id is remembered as abandoned for a
/// while, and any answer for it is refused (`EngineError.Kind.abandoned`).
///
/// - Important: one pool per engine (`WorkflowEngine.workers`): a run's
///   steps go to the workers of the server driving it.
public final class WorkerPool: Sendable {
  /// At most this many task names per worker.
  public static let maximumTasksPerWorker = 1_000
  /// At most this many slots per worker.
  public static let maximumSlots = 10_000
  /// A task name's longest length, in bytes.
  public static let maximumTaskNameBytes = 128
  /// How many abandoned task ids are remembered (to answer a late result
  /// FAILED_PRECONDITION rather than NOT_FOUND).
  static let abandonedMemory = 10_000

  private let state = Mutex(State())
  private let clock = ContinuousClock()

  public init() {}

  // MARK: - The worker side

  /// Registers a worker serving `tasks` with `slots`, and returns its feed.
  /// - Parameters:
  ///   - executor: where the worker's feed is written (its connection's event
  ///     loop): runs whose steps it serves are driven there
  ///     (`executor(serving:)`), so a task and its answer need no thread hop.
  ///   - deliver: sends the worker a message, in order: `.registered` first,
  ///     then its tasks and cancellations. It is called with the pool's lock
  ///     held, by the attempt that gives the task (in the server: it writes
  ///     the frame on the worker's connection at once, with no task between),
  ///     so it must not block or call back into the pool.
  /// - Throws: `EngineError`: INVALID_ARGUMENT for a declaration out of bounds,
  ///   UNAVAILABLE once the pool has shut down.
  public func connect(
    tasks: [String], slots: Int, name: String, pid: Int32?, nowMs: Int64, executor: (any TaskExecutor)? = nil,
    deliver: @escaping @Sendable (WorkerMessage) -> Void
  ) throws(EngineError) -> WorkerFeed {
    guard !tasks.isEmpty, tasks.count <= Self.maximumTasksPerWorker else {
      throw EngineError(
        .invalidArgument,
        "a worker declares 1 to \(Self.maximumTasksPerWorker) task names; this one declared \(tasks.count)")
    }
    if let bad = tasks.first(where: { $0.isEmpty || $0.utf8.count > Self.maximumTaskNameBytes }) {
      throw EngineError(
        .invalidArgument,
        "task name '\(bad.prefix(40))…' must be 1 to \(Self.maximumTaskNameBytes) bytes")
    }
    guard slots >= 1, slots <= Self.maximumSlots else {
      throw EngineError(.invalidArgument, "a worker has 1 to \(Self.maximumSlots) slots; this one declared \(slots)")
    }
    let (ended, end) = AsyncStream.makeStream(of: Never.self)
    let result: Result<WorkerFeed, EngineError> = state.withLock { state in
      guard !state.shutDown else {
        return .failure(EngineError(.unavailable, "the server is shutting down; connect to it again after its restart"))
      }
      state.nextWorker += 1
      let id = "w\(state.nextWorker)-\(RandomText.hex(bytes: 4))"
      state.workers[id] = Worker(
        id: id, name: name, tasks: Set(tasks), declared: tasks, slots: slots, connectedAtMs: nowMs, pid: pid,
        order: state.nextWorker, end: end, deliver: deliver, executor: executor)
      deliver(.registered(workerID: id))
      state.dispatchQueued(to: id)
      return .success(WorkerFeed(workerID: id, ended: ended))
    }
    let feed = try result.get()
    WorkerMetrics.connected.increment()
    return feed
  }

  /// Removes a worker whose feed ended: each task it held fails at once as
  /// retryable ("worker disconnected"), and a queued task that no worker left
  /// serves fails the same way ("no worker serves task NAME").
  public func disconnect(workerID: String) {
    let removed = state.withLock { state -> Bool in
      guard let worker = state.workers.removeValue(forKey: workerID) else { return false }
      worker.end.finish()
      for taskID in worker.holding {
        state.abandon(
          taskID, answer: .lost("worker '\(worker.label)' disconnected while running the task"),
          tellWorker: false)
      }
      for taskID in state.queue where !state.isServed(state.tasks[taskID]?.task.task ?? "") {
        state.abandon(taskID, answer: .lost(Self.noWorker(state.tasks[taskID]?.task.task ?? "")), tellWorker: false)
      }
      return true
    }
    if removed { WorkerMetrics.connected.decrement() }
  }

  /// Gives a worker no new task (it is shutting down); the tasks it holds go on.
  /// - Returns: how many tasks it still holds.
  /// - Throws: `EngineError` NOT_FOUND for a worker that is not connected.
  public func drain(workerID: String) throws(EngineError) -> Int {
    let held: Int? = state.withLock { state in
      guard state.workers[workerID] != nil else { return nil }
      state.workers[workerID]!.draining = true
      return state.workers[workerID]!.holding.count
    }
    guard let held else {
      throw EngineError(.notFound, "no worker '\(workerID.prefix(80))' is connected to this server")
    }
    return held
  }

  /// Takes a task's result.
  /// - Throws: `EngineError`: NOT_FOUND for an id this server never gave
  ///   (or forgot), FAILED_PRECONDITION when the attempt no longer waits for it.
  public func complete(taskID: String, output: StepOutput) throws(EngineError) {
    try answer(taskID, .completed(output))
    WorkerMetrics.completed.increment()
  }

  /// Takes a task's failure (see `complete` for what is refused).
  public func fail(taskID: String, failure: StepFailure) throws(EngineError) {
    try answer(taskID, .failed(failure))
    WorkerMetrics.failed.increment()
  }

  /// Notes that a task is being worked on.
  /// - Throws: `EngineError` as `complete` does: the worker should stop.
  public func heartbeat(taskID: String) throws(EngineError) {
    let now = clock.now
    let refusal: EngineError? = state.withLock { state in
      guard var entry = state.tasks[taskID], entry.worker != nil else { return state.refusal(taskID) }
      entry.lastHeartbeat = now
      state.tasks[taskID] = entry
      return nil
    }
    if let refusal { throw refusal }
  }

  /// The connected workers, oldest connection first.
  public func workers() -> [WorkerSummary] {
    state.withLock { state in
      state.workers.values.sorted { $0.order < $1.order }.map {
        WorkerSummary(
          workerID: $0.id, name: $0.name, tasks: $0.declared, slots: $0.slots, inFlight: $0.holding.count,
          connectedAtMs: $0.connectedAtMs, dispatched: $0.dispatched, pid: $0.pid, draining: $0.draining)
      }
    }
  }

  /// Ends every worker's feed and refuses new workers (the server is shutting
  /// down, after its runs have stopped).
  public func shutDown() {
    state.withLock { state in
      state.shutDown = true
      for worker in state.workers.values { worker.end.finish() }
    }
  }

  // MARK: - The attempt side

  /// Whether a connected worker serves `task`.
  public func serves(task: String) -> Bool {
    state.withLock { $0.isServed(task) }
  }

  /// Where the worker that `task` would be given to now writes its feed (nil:
  /// no worker serves it, or the worker said nothing of where).
  public func executor(serving task: String) -> (any TaskExecutor)? {
    state.withLock { state in
      state.workers.values.lazy.filter { !$0.draining && $0.tasks.contains(task) }.min(by: State.isPreferred)?.executor
    }
  }

  /// Runs one attempt on a worker: gives `task` to one with a free slot (or
  /// queues it), and waits for its answer.
  ///
  /// - Parameters:
  ///   - scheduleToStart: how long the task may wait for a slot; past it the
  ///     attempt fails as retryable.
  ///   - heartbeatTimeout: once given to a worker, the attempt fails as
  ///     retryable when no heartbeat came for this long.
  /// - Throws: `StepFailure` (the worker's failure, or a retryable one when
  ///   the worker is lost or no worker serves the task); `CancellationError`
  ///   when the attempt is cancelled (the worker is told to stop).
  func run(_ task: WorkerTask, scheduleToStart: Duration?, heartbeatTimeout: Duration?) async throws -> StepOutput {
    let submitted = clock.now
    let accepted = state.withLock { state -> Bool in
      guard state.isServed(task.task) else { return false }
      state.tasks[task.taskID] = TaskEntry(task: task, submitted: submitted)
      state.queue.append(task.taskID)
      state.dispatchQueued()
      return true
    }
    guard accepted else { throw StepFailure(Self.noWorker(task.task), retryable: true) }
    let answer: TaskAnswer
    if scheduleToStart == nil && heartbeatTimeout == nil {
      answer = await self.answer(of: task.taskID)  // nothing to watch: no task group for it
    } else {
      answer = await withTaskGroup(of: Void.self) { watchdog -> TaskAnswer in
        watchdog.addTask {
          await self.watch(task.taskID, submitted: submitted, scheduleToStart: scheduleToStart, heartbeatTimeout: heartbeatTimeout)
        }
        let answer = await self.answer(of: task.taskID)
        watchdog.cancelAll()
        return answer
      }
    }
    switch answer {
    case .completed(let output):
      do {
        try JSONValue.validate(output.artifact)
      } catch {
        throw StepFailure(
          "step '\(task.step)': the worker's artifact is not JSON (\(error.message))", retryable: false,
          usage: output.usage)
      }
      return output
    case .failed(let failure):
      throw failure
    case .lost(let message):
      throw StepFailure(message, retryable: true)
    case .cancelled:
      throw CancellationError()
    }
  }

  /// Waits for the task's answer; cancelling the wait abandons the task.
  private func answer(of taskID: String) async -> TaskAnswer {
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<TaskAnswer, Never>) in
        let ready: TaskAnswer? = state.withLock { state in
          guard var entry = state.tasks[taskID] else { return state.early.removeValue(forKey: taskID) ?? .cancelled }
          entry.waiter = continuation
          state.tasks[taskID] = entry
          return nil
        }
        if let ready { continuation.resume(returning: ready) }
      }
    } onCancel: {
      state.withLock { state in
        state.abandon(taskID, answer: .cancelled, reason: "the attempt was cancelled (run cancelled, lease lost, timed out or shutdown)", tellWorker: true)
      }
    }
  }

  /// Fails the task when it waits for a slot past `scheduleToStart`, or its
  /// worker stops heartbeating for `heartbeatTimeout`; returns when the task
  /// ends or the watch is cancelled.
  private func watch(_ taskID: String, submitted: ContinuousClock.Instant, scheduleToStart: Duration?, heartbeatTimeout: Duration?) async {
    while !Task.isCancelled {
      let now = clock.now
      let check = state.withLock { state -> ContinuousClock.Instant? in
        guard let entry = state.tasks[taskID] else { return nil }
        if entry.worker == nil {
          guard let scheduleToStart else { return now + .seconds(1) }
          if now - submitted >= scheduleToStart {
            state.abandon(
              taskID,
              answer: .lost(
                "no worker slot for task '\(entry.task.task)' within schedule_to_start_ms (\(scheduleToStart.wholeMilliseconds) ms)"),
              tellWorker: false)
            return nil
          }
          return submitted + scheduleToStart
        }
        guard let heartbeatTimeout else { return nil }
        let last = entry.lastHeartbeat ?? now
        if now - last >= heartbeatTimeout {
          state.abandon(
            taskID,
            answer: .lost("the worker sent no heartbeat for \(heartbeatTimeout.wholeMilliseconds) ms (heartbeat_timeout_ms)"),
            reason: "no heartbeat for \(heartbeatTimeout.wholeMilliseconds) ms", tellWorker: true)
          return nil
        }
        return last + heartbeatTimeout
      }
      guard let check else { return }
      try? await clock.sleep(until: check)
    }
  }

  private func answer(_ taskID: String, _ answer: TaskAnswer) throws(EngineError) {
    let refusal: EngineError? = state.withLock { state in
      guard let entry = state.tasks[taskID], entry.worker != nil else { return state.refusal(taskID) }
      state.finish(taskID, entry: entry, answer: answer)
      return nil
    }
    if let refusal {
      if refusal.code == .failedPrecondition { WorkerMetrics.rejectedLate.increment() }
      throw refusal
    }
  }

  static func noWorker(_ task: String) -> String { "no worker serves task '\(task)'" }

  // MARK: - State

  private struct Worker {
    let id: String
    let name: String
    let tasks: Set<String>
    let declared: [String]
    let slots: Int
    let connectedAtMs: Int64
    let pid: Int32?
    let order: Int
    let end: AsyncStream<Never>.Continuation
    let deliver: @Sendable (WorkerMessage) -> Void
    let executor: (any TaskExecutor)?
    var holding: Set<String> = []
    var dispatched: UInt64 = 0
    var lastDispatch = 0
    /// Shutting down: given no new task.
    var draining = false

    var label: String { name.isEmpty ? id : "\(name) (\(id))" }
    var free: Int { slots - holding.count }
  }

  private struct TaskEntry {
    let task: WorkerTask
    let submitted: ContinuousClock.Instant
    var worker: String?
    var lastHeartbeat: ContinuousClock.Instant?
    var waiter: CheckedContinuation<TaskAnswer, Never>?
  }

  private struct State {
    var workers: [String: Worker] = [:]
    var tasks: [String: TaskEntry] = [:]
    /// Tasks waiting for a slot, oldest first.
    var queue: [String] = []
    /// Answers that came before their attempt began waiting (rare: a worker faster than a task switch).
    var early: [String: TaskAnswer] = [:]
    /// Abandoned task ids and why, the newest `abandonedMemory` of them.
    var abandoned: [String: String] = [:]
    var abandonedOrder: [String] = []
    var nextWorker = 0
    var dispatches = 0
    var shutDown = false

    /// The order workers are given tasks in: the one holding the fewest tasks
    /// first; among those, the least recently given one.
    static func isPreferred(_ one: Worker, over other: Worker) -> Bool {
      (one.holding.count, one.lastDispatch) < (other.holding.count, other.lastDispatch)
    }

    func isServed(_ task: String) -> Bool { workers.values.contains { !$0.draining && $0.tasks.contains(task) } }

    /// Gives queued tasks to workers with free slots (only to `worker` when named).
    mutating func dispatchQueued(to only: String? = nil) {
      var remaining: [String] = []
      for taskID in queue {
        guard let entry = tasks[taskID] else { continue }
        let candidates = workers.values.lazy.filter {
          $0.free > 0 && !$0.draining && $0.tasks.contains(entry.task.task) && (only == nil || $0.id == only)
        }
        guard let chosen = candidates.min(by: Self.isPreferred) else {
          remaining.append(taskID)
          continue
        }
        dispatches += 1
        workers[chosen.id]!.holding.insert(taskID)
        workers[chosen.id]!.dispatched += 1
        workers[chosen.id]!.lastDispatch = dispatches
        tasks[taskID]!.worker = chosen.id
        tasks[taskID]!.lastHeartbeat = ContinuousClock.now
        chosen.deliver(.task(entry.task))
        WorkerMetrics.dispatched.increment()
      }
      queue = remaining
    }

    /// Ends a task with `answer`: frees its slot and hands the slot on.
    mutating func finish(_ taskID: String, entry: TaskEntry, answer: TaskAnswer) {
      tasks.removeValue(forKey: taskID)
      if let worker = entry.worker {
        workers[worker]?.holding.remove(taskID)
      } else {
        queue.removeAll { $0 == taskID }
      }
      if let waiter = entry.waiter {
        waiter.resume(returning: answer)
      } else {
        early[taskID] = answer
      }
      if entry.worker != nil { dispatchQueued() }
    }

    /// Ends a task whose attempt no longer waits for its worker's answer;
    /// the worker holding it is told to stop when `tellWorker`.
    mutating func abandon(_ taskID: String, answer: TaskAnswer, reason: String? = nil, tellWorker: Bool) {
      guard let entry = tasks[taskID] else { return }
      let why: String
      switch (reason, answer) {
      case (let reason?, _): why = reason
      case (nil, .lost(let message)): why = message
      default: why = "the attempt was abandoned"
      }
      if tellWorker, let worker = entry.worker.flatMap({ workers[$0] }) {
        worker.deliver(.cancelled(taskID: taskID, reason: why))
      }
      remember(taskID, why)
      WorkerMetrics.abandoned.increment()
      finish(taskID, entry: entry, answer: answer)
    }

    mutating func remember(_ taskID: String, _ reason: String) {
      abandoned[taskID] = reason
      abandonedOrder.append(taskID)
      if abandonedOrder.count > WorkerPool.abandonedMemory {
        abandoned.removeValue(forKey: abandonedOrder.removeFirst())
      }
    }

    /// Why an answer for `taskID` is refused.
    func refusal(_ taskID: String) -> EngineError {
      if let reason = abandoned[taskID] {
        return EngineError(
          .failedPrecondition, "task '\(taskID)' was abandoned (\(reason)); nothing of it is committed — stop working on it")
      }
      if tasks[taskID] != nil {
        return EngineError(.failedPrecondition, "task '\(taskID)' has not been given to a worker yet")
      }
      return EngineError(
        .notFound, "no task '\(taskID.prefix(80))' on this server (unknown, or ended long ago); answer only tasks this server's ConnectWorker gave you")
    }
  }
}

/// What came of a task.
enum TaskAnswer: Sendable {
  case completed(StepOutput)
  case failed(StepFailure)
  /// The worker is gone, or never came: a retryable failure with this message.
  case lost(String)
  /// The attempt was cancelled.
  case cancelled
}

/// A connected worker, as its feed sees it (its messages go to `connect`'s `deliver`).
public struct WorkerFeed: Sendable {
  /// The id the pool gave the worker.
  public let workerID: String
  /// Finishes when the worker is disconnected or the pool shuts down.
  public let ended: AsyncStream<Never>
}

/// One message of a worker's feed.
public enum WorkerMessage: Sendable {
  /// The worker is registered under this id (always the first message).
  case registered(workerID: String)
  /// A task to run.
  case task(WorkerTask)
  /// A task the worker holds whose attempt was abandoned: stop it.
  case cancelled(taskID: String, reason: String)
}

/// One attempt of one step, as a worker is given it.
public struct WorkerTask: Sendable {
  /// Unguessable; names the attempt in every answer.
  public var taskID: String
  /// The task name the step asked for.
  public var task: String
  public var workflowID: String
  public var workflowName: String
  public var step: String
  public var attempt: Int
  /// `workflow_id/step/attempt`.
  public var idempotencyKey: String
  /// `workflow_id/step`: the same for every attempt and resume.
  public var stepKey: String
  /// When the attempt times out, in Unix milliseconds; nil: never.
  public var deadlineUnixMs: Int64?
  /// The step's `config`, as JSON text.
  public var configJSON: String
  /// The declared inputs, in the step's order.
  public var inputs: [(name: String, bytes: [UInt8])]
  /// The history the step's policy lets through.
  public var history: [HistoryEntry]
  /// How often the worker must heartbeat; nil: never.
  public var heartbeatTimeout: Duration?
}

/// What `ListWorkers` shows of a worker.
public struct WorkerSummary: Hashable, Sendable {
  public var workerID: String
  public var name: String
  public var tasks: [String]
  public var slots: Int
  public var inFlight: Int
  public var connectedAtMs: Int64
  public var dispatched: UInt64
  public var pid: Int32?
  public var draining: Bool
}

/// Worker metrics, through swift-metrics:
/// - `resumable_workers_connected`;
/// - `resumable_worker_tasks_dispatched_total`, `…_completed_total`, `…_failed_total`:
///   tasks given to workers, and their answers taken;
/// - `resumable_worker_tasks_abandoned_total`: tasks whose attempt stopped waiting
///   (worker lost, heartbeat timeout, cancellation, no slot in time);
/// - `resumable_worker_answers_rejected_total`: answers refused as late (abandoned task).
enum WorkerMetrics {
  static let connected = Meter(label: "resumable_workers_connected")
  static let dispatched = Counter(label: "resumable_worker_tasks_dispatched_total")
  static let completed = Counter(label: "resumable_worker_tasks_completed_total")
  static let failed = Counter(label: "resumable_worker_tasks_failed_total")
  static let abandoned = Counter(label: "resumable_worker_tasks_abandoned_total")
  static let rejectedLate = Counter(label: "resumable_worker_answers_rejected_total")
}
