import Dispatch
import ResumableCore
import ResumableWire

extension Dispatcher {
  /// Answers `ConnectWorker`: registers the worker with the engine's pool,
  /// which sends its id, then its tasks and cancellations as they come,
  /// until the connection closes (the worker is then removed: its tasks in
  /// flight fail as retryable) or the server shuts down (a last frame,
  /// UNAVAILABLE).
  ///
  /// The pool's messages are written with `writeNow`, straight onto the
  /// connection, by the attempt that gives the task: no task of the feed's
  /// own is woken for it, and no async writer is on the way (measured with
  /// `resumable bench workers`: 5–13 µs less server CPU per worker step in
  /// ten alternated pairs). A worker is given at most as many tasks as
  /// it has slots, so what waits unwritten is bounded as it was in the
  /// stream it replaces; a connection whose writes stall is closed
  /// (`WriteStallHandler`), which disconnects the worker.
  func workerStream(
    _ request: Envelope, pid: Int32?, executor: (any TaskExecutor)?,
    send: @escaping @Sendable (Envelope) async throws -> Void,
    writeNow: @escaping @Sendable (Envelope) -> Void
  ) async {
    let started = DispatchTime.now()
    var last = Envelope(requestID: request.requestID, method: request.method, endOfStream: true)
    var outcome = StatusCode.cancelled
    defer { ServerMetrics.rpc(method: request.method, code: outcome, since: started) }
    let feed: WorkerFeed
    do {
      let message = try decode(ConnectWorkerRequest.self, request.payload, .connectWorker)
      feed = try engine.workers.connect(
        tasks: message.tasks, slots: Int(message.slots), name: String(message.name.prefix(200)), pid: pid,
        nowMs: engine.epochMilliseconds, executor: executor,
        deliver: { @Sendable (message: WorkerMessage) -> Void in writeNow(Self.frame(request, message)) })
    } catch {
      last.fail(with: answer(to: error, method: request.method))
      outcome = last.statusCode
      try? await send(last)
      return
    }
    let pool = engine.workers
    defer { pool.disconnect(workerID: feed.workerID) }
    for await _ in feed.ended {}
    // Cancelled: the connection closed, the worker is gone.
    if Task.isCancelled { return }
    // The feed ended without the connection: the server is shutting down.
    last.fail(
      with: RPCFailure(
        .unavailable, "the server is shutting down; connect the worker again once it (or another server) is up"))
    outcome = last.statusCode
    try? await send(last)
  }

  /// The frame of a message of the pool for the worker of `request`.
  private static func frame(_ request: Envelope, _ message: WorkerMessage) -> Envelope {
    let response =
      switch message {
      case .registered(let workerID): ConnectWorkerResponse(workerID: workerID)
      case .task(let task): ConnectWorkerResponse(task: StepTask(task))
      case .cancelled(let taskID, let reason):
        ConnectWorkerResponse(cancelled: TaskCancelled(taskID: taskID, reason: reason))
      }
    var frame = Envelope(requestID: request.requestID, method: request.method)
    frame.payload = response.protobufBytes()
    return frame
  }

  /// Answers a worker's answer to a task (`Method.isWorkerAnswer`) at once:
  /// it waits for nothing, so the connection's read loop calls it itself.
  func respondNow(to request: Envelope, method: Method) async -> Envelope {
    await response(to: request) { try workerCall(method, request.payload) }
  }

  /// Answers the unary worker calls: CompleteTask, FailTask, HeartbeatTask, DrainWorker, ListWorkers.
  func workerCall(_ method: Method, _ payload: [UInt8]) throws -> [UInt8] {
    let pool = engine.workers
    switch method {
    case .completeTask:
      let message = try decode(CompleteTaskRequest.self, payload, method)
      try pool.complete(
        taskID: message.taskID,
        output: StepOutput(
          artifact: message.artifact, usage: StepUsage(message.usage),
          history: message.history.map { HistoryEntry(role: $0.role, content: $0.content) }))
      return CompleteTaskResponse().protobufBytes()
    case .failTask:
      let message = try decode(FailTaskRequest.self, payload, method)
      let errorClass: StepErrorClass =
        switch message.errorClass {
        case .nonRetryable: .nonRetryable
        case .rateLimited: .rateLimited(retryAfter: .milliseconds(Int64(clamping: message.retryAfterMs)))
        default: .retryable
        }
      let text = message.message.isEmpty ? "the worker failed the task (no message)" : String(message.message.prefix(4096))
      try pool.fail(
        taskID: message.taskID, failure: StepFailure(text, class: errorClass, usage: StepUsage(message.usage)))
      return FailTaskResponse().protobufBytes()
    case .heartbeatTask:
      let message = try decode(HeartbeatTaskRequest.self, payload, method)
      try pool.heartbeat(taskID: message.taskID)
      return HeartbeatTaskResponse().protobufBytes()
    case .drainWorker:
      let message = try decode(DrainWorkerRequest.self, payload, method)
      let held = try pool.drain(workerID: message.workerID)
      return DrainWorkerResponse(inFlight: UInt32(clamping: held)).protobufBytes()
    case .listWorkers:
      _ = try decode(ListWorkersRequest.self, payload, method)
      return ListWorkersResponse(workers: pool.workers().map(WorkerInfo.init)).protobufBytes()
    default:
      throw RPCFailure(.internal, "\(method.rawValue) is not a worker call")
    }
  }
}

extension Method {
  /// A worker's answer to a task it was given: taken without waiting, so
  /// answered in the connection's read loop (`Dispatcher.respondNow`).
  var isWorkerAnswer: Bool {
    switch self {
    case .completeTask, .failTask, .heartbeatTask: true
    default: false
    }
  }
}
