import Dispatch
import Logging
import ResumableCore
import ResumableWire

/// Turns one request envelope into its response envelope: decodes the
/// payload, calls the engine within the call's deadline, encodes the answer.
/// Every failure becomes a status code and a message; nothing throws.
struct Dispatcher: Sendable {
  let engine: WorkflowEngine
  let logger: Logger
  /// What `Health` notes about the store (Redis' eviction policy), if anything.
  let storeNote: @Sendable () async -> String?
  /// Ends the watches in flight at shutdown (`stream`, Dispatcher+Watch.swift).
  let watches = WatchShutdown()

  func respond(to request: Envelope) async -> Envelope {
    await response(to: request) {
      try await withDeadline(milliseconds: request.timeoutMilliseconds) { try await self.call(request) }
    }
  }

  /// The response whose payload `payload` makes (or whose status its error
  /// says), counted in the RPC metrics.
  func response(to request: Envelope, _ payload: () async throws -> [UInt8]) async -> Envelope {
    let started = DispatchTime.now()
    var response = Envelope(requestID: request.requestID, method: request.method, endOfStream: true)
    defer { ServerMetrics.rpc(method: request.method, code: response.statusCode, since: started) }
    do {
      response.payload = try await payload()
    } catch {
      response.fail(with: answer(to: error, method: request.method))
    }
    return response
  }

  /// The one place an error becomes a call's answer: what it says of itself
  /// (`StatusConvertible`), or, for any other error, `INTERNAL` with a generic
  /// message and the detail in the log.
  func answer(to error: any Error, method: String) -> any StatusConvertible {
    if let error = error as? any StatusConvertible { return error }
    logger.error("request failed: \(error)", metadata: ["method": "\(method)"])
    return RPCFailure(.internal, "internal error; the server log has the detail")
  }

  private func call(_ request: Envelope) async throws -> [UInt8] {
    guard let method = Method(rawValue: request.method) else {
      let known = Method.allCases.map(\.rawValue).joined(separator: ", ")
      throw RPCFailure(
        .unimplemented,
        "unknown method '\(request.method.prefix(100))'; this server implements \(known)")
    }
    switch method {
    case .startWorkflow:
      let message = try decode(StartWorkflowRequest.self, request.payload, method)
      let result = try await engine.start(
        workflow: message.workflow, workflowID: message.workflowID.isEmpty ? nil : message.workflowID,
        input: Array(message.inputJSON.utf8), wait: !message.noWait,
        onConflict: message.onConflict == .useExisting ? .useExisting : .fail,
        budgetMicros: message.budgetUsd == 0 ? nil : try Self.dollars(message.budgetUsd, "budget_usd"))
      return StartWorkflowResponse(
        state: RunState(result.record, includeArtifacts: false), created: result.created
      ).protobufBytes()
    case .resumeWorkflow:
      let message = try decode(ResumeWorkflowRequest.self, request.payload, method)
      let record = try await engine.resume(
        workflowID: message.workflowID, wait: !message.noWait, fromStep: message.fromStep)
      return ResumeWorkflowResponse(state: RunState(record, includeArtifacts: false)).protobufBytes()
    case .getState:
      let message = try decode(GetStateRequest.self, request.payload, method)
      let record = try await engine.state(
        workflowID: message.workflowID, includeArtifacts: message.includeArtifacts,
        includeHistory: message.includeHistory, includeInput: false)
      return GetStateResponse(
        state: RunState(
          record, includeArtifacts: message.includeArtifacts, includeHistory: message.includeHistory,
          includeItems: message.includeItems)
      ).protobufBytes()
    case .listWorkflows:
      let message = try decode(ListWorkflowsRequest.self, request.payload, method)
      let page = try await engine.list(
        status: RunRecord.Status(message.status),
        workflow: message.workflow.isEmpty ? nil : message.workflow, limit: Int(message.pageSize),
        cursor: message.cursor.isEmpty ? nil : message.cursor)
      return ListWorkflowsResponse(
        runs: page.runs.map(ResumableWire.RunSummary.init), nextCursor: page.nextCursor ?? ""
      ).protobufBytes()
    case .cancelWorkflow:
      let message = try decode(CancelWorkflowRequest.self, request.payload, method)
      let record = try await engine.cancel(workflowID: message.workflowID, reason: message.reason)
      return CancelWorkflowResponse(state: RunState(record, includeArtifacts: false)).protobufBytes()
    case .health:
      _ = try decode(HealthRequest.self, request.payload, method)
      let health = await engine.health()
      var response = HealthResponse(
        status: health.serving ? "SERVING" : "NOT_SERVING", version: ResumableVersion.current,
        runsInFlight: UInt32(clamping: health.runsInFlight), uptimeMs: UInt64(max(0, health.uptime.wholeMilliseconds)),
        maxSpendPerHourMicros: health.spendGuard?.capMicros ?? 0, spentLastHourMicros: health.spendGuard?.spentMicros ?? 0)
      switch health.store {
      case .success(let latency):
        response.redisReachable = true
        let (seconds, attoseconds) = latency.components
        response.redisLatencyUs = UInt64(max(0, seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
        // NOT_SERVING's reason first; a warning alone leaves the server SERVING.
        let notes = [health.draining ? "the server is shutting down" : nil, await storeNote()]
        response.redisError = notes.compactMap { $0 }.joined(separator: "; ")
      case .failure(let error):
        response.redisError = error.message
      }
      return response.protobufBytes()
    case .approveStep:
      let message = try decode(ApproveStepRequest.self, request.payload, method)
      let record = try await engine.approve(
        workflowID: message.workflowID, token: message.token, approve: !message.reject, note: message.note,
        wait: !message.noWait)
      return ApproveStepResponse(state: RunState(record, includeArtifacts: false)).protobufBytes()
    case .answerBudget:
      let message = try decode(AnswerBudgetRequest.self, request.payload, method)
      let raise = message.reject ? nil : try Self.dollars(message.raiseToUsd, "raise_to_usd")
      let record = try await engine.answerBudget(
        workflowID: message.workflowID, token: message.token, raiseToMicros: raise, note: message.note,
        wait: !message.noWait)
      return AnswerBudgetResponse(state: RunState(record, includeArtifacts: false)).protobufBytes()
    case .registerWorkflows:
      let message = try decode(RegisterWorkflowsRequest.self, request.payload, method)
      let registrations = try await engine.registerWorkflows(definitionsJSON: message.definitionsJSON)
      return RegisterWorkflowsResponse(
        workflows: registrations.map {
          RegisteredWorkflow(name: $0.name, version: $0.version, changed: $0.changed)
        }
      ).protobufBytes()
    case .completeTask, .failTask, .heartbeatTask, .drainWorker, .listWorkers:
      return try workerCall(method, request.payload)
    case .watchWorkflow, .connectWorker:
      throw RPCFailure(.internal, "\(method.rawValue) is server-streaming: it is answered by stream(_:send:)")
    }
  }

  /// A request's amount of US dollars in micro-dollars.
  /// - Throws: INVALID_ARGUMENT for a negative, non-finite or absurd amount.
  static func dollars(_ value: Double, _ field: String) throws -> Int64 {
    guard let micros = Money.micros(fromDollars: value) else {
      throw RPCFailure(.invalidArgument, "\(field) must be a finite number of US dollars from 0 to 1e12, not \(value)")
    }
    return micros
  }

  func decode<Message: WireMessage>(_ type: Message.Type, _ payload: [UInt8], _ method: Method) throws -> Message {
    do {
      return try Message(protobufBytes: payload)
    } catch {
      throw RPCFailure(
        .invalidArgument,
        "the payload of \(method.rawValue) is not a resumable.v1.\(Message.self): \(error.message)")
    }
  }

  /// Runs `body`, or fails with DEADLINE_EXCEEDED when the deadline passes
  /// first (0: no deadline). The run a call started goes on either way.
  private func withDeadline(milliseconds: UInt64, _ body: @escaping @Sendable () async throws -> [UInt8]) async throws -> [UInt8] {
    guard milliseconds > 0 else { return try await body() }
    let limit = Duration.milliseconds(Int64(min(milliseconds, UInt64(Int64.max / 1_000_000))))
    return try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
      group.addTask { try await body() }
      group.addTask {
        try? await Task.sleep(for: limit)
        return nil
      }
      defer { group.cancelAll() }
      guard let first = try await group.next(), let result = first else {
        throw RPCFailure(
          .deadlineExceeded,
          "the call's deadline of \(milliseconds) ms passed; a run it started goes on — ask for its state")
      }
      return result
    }
  }
}
