import Dispatch
import ResumableCore
import ResumableSocket
import ResumableWire

extension Dispatcher {
  /// Answers a server-streaming request (`WatchWorkflow`; `ConnectWorker` in
  /// Dispatcher+Workers.swift) with its frames, in order, through `send`
  /// (a worker's feed writes its messages with `writeNow`, straight onto the
  /// connection); the last one has `endOfStream` set. Every failure becomes
  /// that last frame's status; nothing throws.
  ///
  /// A watch's frames: the run's state (when it is still going), then an
  /// event per frame, then the final state (`endOfStream`) once the run is
  /// COMPLETED, FAILED or CANCELLED. A run already ended gets one frame, its
  /// state. The watch also ends — with a status — when the call's deadline
  /// passes (`DEADLINE_EXCEEDED`), the store is unreachable or the server
  /// shuts down (`UNAVAILABLE`), or the run expires (`NOT_FOUND`); it stops
  /// without a frame when `send` fails (the watcher went away).
  /// - Parameter executor: where the connection's frames are written (a worker's feed is).
  func stream(
    _ request: Envelope, peer: PeerCredentials?, executor: (any TaskExecutor)? = nil,
    send: @escaping @Sendable (Envelope) async throws -> Void,
    writeNow: @escaping @Sendable (Envelope) -> Void
  ) async {
    if request.method == Method.connectWorker.rawValue {
      await workerStream(request, pid: peer?.pid, executor: executor, send: send, writeNow: writeNow)
      return
    }
    let started = DispatchTime.now()
    var last = Envelope(requestID: request.requestID, method: request.method, endOfStream: true)
    // A stream that ends because its connection did is counted CANCELLED.
    var outcome = StatusCode.cancelled
    defer { ServerMetrics.rpc(method: request.method, code: outcome, since: started) }
    do {
      let message = try decode(WatchWorkflowRequest.self, request.payload, .watchWorkflow)
      let final = try await watch(message.workflowID, deadline: request.timeoutMilliseconds) { update in
        var frame = Envelope(requestID: request.requestID, method: request.method)
        switch update {
        case .state(let record):
          frame.payload = WatchWorkflowResponse(state: RunState(record, includeArtifacts: false)).protobufBytes()
        case .event(let event):
          frame.payload = WatchWorkflowResponse(event: RunEvent(event)).protobufBytes()
        }
        try await send(frame)
      }
      last.payload = WatchWorkflowResponse(state: RunState(final, includeArtifacts: false)).protobufBytes()
    } catch is SendFailure {
      return
    } catch is CancellationError {
      // The connection closed (or the request was cancelled): nobody to tell.
      return
    } catch {
      last.fail(with: answer(to: error, method: request.method))
    }
    outcome = last.statusCode
    try? await send(last)
  }

  /// How a watch ended.
  private enum WatchEnd: Sendable {
    case ended(RunRecord)
    case shutdown
    case deadline
  }

  /// The engine's watch of `workflowID`, raced against the server's shutdown
  /// and the call's deadline (0: none).
  private func watch(
    _ workflowID: String, deadline milliseconds: UInt64,
    send: @escaping @Sendable (WatchUpdate) async throws -> Void
  ) async throws -> RunRecord {
    let (engine, watches) = (self.engine, self.watches)
    let end = try await withThrowingTaskGroup(of: WatchEnd?.self) { group in
      group.addTask {
        .ended(
          try await engine.watch(workflowID: workflowID) { update in
            do { try await send(update) } catch { throw SendFailure() }
          })
      }
      group.addTask {
        await watches.wait()
        return Task.isCancelled ? nil : .shutdown
      }
      if milliseconds > 0 {
        let limit = Duration.milliseconds(Int64(min(milliseconds, UInt64(Int64.max / 1_000_000))))
        group.addTask {
          try await Task.sleep(for: limit)
          return .deadline
        }
      }
      defer { group.cancelAll() }
      return try await group.next() ?? nil
    }
    switch end {
    case .ended(let record):
      return record
    case .shutdown:
      throw RPCFailure(
        .unavailable,
        "the server is shutting down; the run goes on — watch it again (any server sharing its Redis will do)")
    case .deadline:
      throw RPCFailure(.deadlineExceeded, "the watch's deadline of \(milliseconds) ms passed; the run goes on")
    case nil:
      throw CancellationError()
    }
  }
}

/// Sending a frame failed: the watcher is gone.
private struct SendFailure: Error {}
