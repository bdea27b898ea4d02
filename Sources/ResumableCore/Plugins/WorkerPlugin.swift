/// `worker`: the step runs in a worker — a process of the user's, in any
/// language, connected to this server over the socket (`ConnectWorker`) —
/// that serves the step's task.
///
/// `config: {task: NAME}` names the task (default: the step's name). An
/// attempt is given to a connected worker serving it with a free slot, and
/// its answer is checked against the attempt it was given for. While no
/// connected worker serves the task, the step waits (WAITING, "no worker
/// serves task 'NAME'") and spends no attempt; the step key
/// `schedule_to_start_ms` bounds that wait (and the wait for a free slot),
/// `heartbeat_timeout_ms` fails an attempt whose worker stops heartbeating.
public struct WorkerPlugin: StepPlugin {
  /// The registered name.
  public static let name = "worker"

  /// The workers this plugin dispatches to.
  public let pool: WorkerPool

  /// A worker plugin with a pool of its own; the engine binds its own pool
  /// in (`WorkflowEngine.workers`).
  public init(pool: WorkerPool = WorkerPool()) {
    self.pool = pool
  }

  struct Settings: PluginSettings {
    var task: String?

    init(_ config: JSONValue) throws(PluginConfigError) {
      for (key, value) in try config.configMembers(otherwise: "worker's config must be a mapping") {
        guard key == "task" else { throw .unknownKey(key, allowed: ["task"]) }
        let task = try value.nonEmptyText("task")
        guard task.utf8.count <= WorkerPool.maximumTaskNameBytes else {
          throw PluginConfigError("'task' must be at most \(WorkerPool.maximumTaskNameBytes) bytes")
        }
        self.task = task
      }
    }

    func task(of step: String) -> String { task ?? step }
  }

  public func validate(config: JSONValue) throws(PluginConfigError) {
    _ = try Settings(config)
  }

  public func readiness(stepName: String, config: JSONValue) -> StepReadiness {
    let task = (try? Settings(config))?.task(of: stepName) ?? stepName
    return pool.serves(task: task) ? .ready : .unavailable(reason: WorkerPool.noWorker(task))
  }

  public func execute(_ context: StepContext) async throws -> StepOutput {
    let settings = try Settings.of(context, plugin: Self.name)
    let idempotencyKey = context.idempotencyKey
    let task = WorkerTask(
      taskID: idempotencyKey + "#" + RandomText.hex(bytes: 12),
      task: settings.task(of: context.stepName), workflowID: context.workflowID,
      workflowName: context.workflowName, step: context.stepName, attempt: context.attempt,
      idempotencyKey: idempotencyKey, stepKey: context.stepKey,
      deadlineUnixMs: context.deadlineUnixMilliseconds, configJSON: String(decoding: context.config.serialized(), as: UTF8.self),
      inputs: context.inputs.sorted { $0.key < $1.key }.map { (name: $0.key, bytes: $0.value) },
      history: context.history, heartbeatTimeout: context.heartbeatTimeout)
    return try await pool.run(task, scheduleToStart: context.scheduleToStart, heartbeatTimeout: context.heartbeatTimeout)
  }
}
