import NIOCore
public import ResumableWire

extension ResumableClient {
  /// Watches a run (`WatchWorkflow`, server-streaming): the run's state, then its events as they
  /// happen — whichever server drives it — until it is COMPLETED, FAILED or CANCELLED.
  ///
  /// The first response carries the run's state and no event; each later one an event; the last
  /// one the final state. A run that has ended already answers with one response, its state.
  ///
  /// ```swift
  /// for try await response in client.watchWorkflow(WatchWorkflowRequest(workflowID: "demo-1")) {
  ///   if !response.event.type.isEmpty { print(response.event.type, response.event.step) }
  /// }
  /// ```
  ///
  /// - Parameters:
  ///   - request: The run to watch.
  ///   - timeout: How long the server keeps the watch open at most (it then ends it with
  ///     `DEADLINE_EXCEEDED`); `nil`: until the run ends.
  /// - Returns: The responses, in order. Iterate it once. It throws ``ResumableClientError``: the
  ///   server's status (`NOT_FOUND`, `INVALID_ARGUMENT`, `UNAVAILABLE` when Redis is down or the
  ///   server shuts down, …) or a client-side failure. Stopping the iteration stops listening;
  ///   the server ends the watch when the run ends or the connection closes.
  public func watchWorkflow(
    _ request: WatchWorkflowRequest, timeout: Duration? = nil
  ) -> ResumableResponseStream<WatchWorkflowResponse> {
    stream(.watchWorkflow, request, timeout: timeout)
  }

  /// Connects as a worker (`ConnectWorker`, server-streaming): the first response carries the
  /// worker's id, each later one a task to run (`task`) or one to stop (`cancelled`). Answer
  /// tasks with `completeTask`, `failTask` and `heartbeatTask` (on this client or any other).
  ///
  /// - Important: the worker stays connected as long as this client's connection: close the
  ///   client to disconnect it (its tasks in flight then fail as retryable, and go to another
  ///   worker). Stopping the iteration alone does not.
  public func connectWorker(_ request: ConnectWorkerRequest) -> ResumableResponseStream<ConnectWorkerResponse> {
    stream(.connectWorker, request, timeout: nil)
  }

  private func stream<Request: WireMessage, Response: WireMessage>(
    _ method: Method, _ request: Request, timeout: Duration?
  ) -> ResumableResponseStream<Response> {
    let id = pending.nextRequestID()
    var envelope = Envelope(requestID: id, method: method.rawValue, payload: request.protobufBytes())
    if let timeout { envelope.timeoutMilliseconds = max(1, Self.milliseconds(roundingUp: timeout)) }
    let (frames, continuation) = AsyncStream.makeStream(of: Result<Envelope, ResumableClientError>.self)
    let pending = self.pending
    continuation.onTermination = { _ in pending.removeStream(id) }
    if pending.registerStream(id, continuation) {
      Self.send(
        ByteBuffer(bytes: envelope.protobufBytes()), id: id, method: method, on: channel, pending: pending,
        socketPath: socketPath)
    }
    return ResumableResponseStream(frames: frames, method: method)
  }

  /// Writes a request's frame; a failed write fails the call `id` with `.unavailable`.
  static func send(
    _ frame: ByteBuffer, id: UInt64, method: Method, on channel: any Channel, pending: PendingCalls,
    socketPath: String
  ) {
    channel.writeAndFlush(frame).whenFailure { error in
      pending.fail(
        id,
        with: ResumableClientError(
          code: .unavailable,
          message: "could not send \(method.rawValue) to the server at \(socketPath): \(error)",
          cause: error))
    }
  }
}

/// The responses of a server-streaming call, in order, as an `AsyncSequence` that throws
/// ``ResumableClientError``. It ends after the frame the server marks as the last; an error
/// status ends it with that error.
///
/// - Important: Iterate it once (the responses are not buffered for a second iterator).
public struct ResumableResponseStream<Response: WireMessage>: AsyncSequence, Sendable {
  public typealias Element = Response
  public typealias Failure = ResumableClientError

  let frames: AsyncStream<Result<Envelope, ResumableClientError>>
  let method: Method

  public func makeAsyncIterator() -> AsyncIterator {
    AsyncIterator(frames: frames.makeAsyncIterator(), method: method)
  }

  /// Reads the responses one by one.
  public struct AsyncIterator: AsyncIteratorProtocol {
    public typealias Failure = ResumableClientError

    var frames: AsyncStream<Result<Envelope, ResumableClientError>>.AsyncIterator
    let method: Method
    var ended = false

    /// The next response; nil after the last one.
    /// - Throws: ``ResumableClientError``: the server's error status, a connection failure,
    ///   `.cancelled` when the calling task is cancelled.
    public mutating func next() async throws(ResumableClientError) -> Response? {
      guard !ended else { return nil }
      guard let frame = await frames.next() else {
        ended = true
        if Task.isCancelled { throw .callCancelled }
        throw ResumableClientError(
          code: .unavailable, message: "the stream of \(method.rawValue) ended before its last frame")
      }
      let envelope: Envelope
      do {
        envelope = try frame.get()
      } catch {
        ended = true
        throw error
      }
      ended = envelope.endOfStream
      guard envelope.statusCode == .ok else {
        ended = true
        throw ResumableClientError(
          answer: envelope, otherwise: "the server ended \(method.rawValue) with \(envelope.statusCode)")
      }
      do {
        return try Response(protobufBytes: envelope.payload)
      } catch {
        ended = true
        throw ResumableClientError(
          code: .internal,
          message: "the server's answer to \(method.rawValue) could not be decoded: \(error)", cause: error)
      }
    }
  }
}
