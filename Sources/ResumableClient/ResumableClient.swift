import NIOCore
import Synchronization
import NIOPosix
import ResumableSocket
public import ResumableWire

/// An async client of the Resumable sidecar, over one Unix domain socket connection.
///
/// Calls may be made concurrently from any task: they are pipelined on the connection, each with
/// a fresh request id, and their responses are matched by request id whatever order they arrive
/// in. Each call has an optional timeout, sent to the server and also enforced here.
///
/// ```swift
/// let client = try await ResumableClient.connect(socketPath: ResumableClient.defaultSocketPath)
/// let response = try await client.startWorkflow(
///   StartWorkflowRequest(workflow: "research", inputJSON: #"{"topic":"tides"}"#),
///   timeout: .seconds(600))
/// await client.close()
/// ```
///
/// - Important: Call ``close()`` when done; it fails the calls still waiting. Every method throws
///   ``ResumableClientError`` only.
public final class ResumableClient: Sendable {
  /// The socket path used when none is given: `$XDG_RUNTIME_DIR/resumable.sock` when that
  /// variable is set, else `/tmp/resumable-UID/resumable.sock` (UID: the effective user id),
  /// in a directory `resumable serve` creates mode 0700 and every client checks is still the
  /// user's own.
  ///
  /// The CLI falls back to it after `--socket` and `RESUMABLE_SOCKET`; `resumable serve`
  /// listens on it by default.
  public static var defaultSocketPath: String { SocketDirectory.defaultSocketPath() }

  /// The path of the server's Unix domain socket.
  public let socketPath: String

  /// The executor of this connection's event loop. A worker loop that prefers
  /// it (`withTaskExecutorPreference`, `addTask(executorPreference:)`) takes
  /// each task its feed brings and sends the answer on the thread that read
  /// the frame, with no hop between threads.
  public var executor: any TaskExecutor { EventLoopExecutor.shared(for: channel.eventLoop) }
  /// The configuration the client was connected with.
  public let configuration: Configuration

  let channel: any Channel
  let pending: PendingCalls

  private init(
    socketPath: String, configuration: Configuration, channel: any Channel, pending: PendingCalls
  ) {
    self.socketPath = socketPath
    self.configuration = configuration
    self.channel = channel
    self.pending = pending
  }

  deinit {
    channel.close(promise: nil)
  }

  /// Connects to the server listening at `socketPath`.
  /// - Parameters:
  ///   - socketPath: The server's Unix domain socket.
  ///   - configuration: Timeouts and limits.
  /// - Returns: A connected client.
  ///
  /// The server must run as this user or as root, or as
  /// ``Configuration/trustedServerUID``: the kernel says who listens (`SO_PEERCRED`), so a
  /// socket another user created first cannot receive this client's calls. A socket in
  /// `/tmp/resumable-UID` is used only while that directory is this user's own.
  /// - Throws: ``ResumableClientError`` with `.unavailable` when no server listens there (the
  ///   message says how to start one) or the one there runs as a user not trusted,
  ///   `.permissionDenied` when the socket refuses this user or its directory is not the
  ///   user's own, `.invalidArgument` when the path is too long for a Unix socket.
  public static func connect(
    socketPath: String = defaultSocketPath, configuration: Configuration = .init()
  ) async throws(ResumableClientError) -> ResumableClient {
    do {
      try SocketDirectory.secure(forSocket: socketPath, create: false)
    } catch {
      throw ResumableClientError(code: .permissionDenied, message: error.description, cause: error)
    }
    let pending = PendingCalls()
    let capture = Mutex<PeerCredentialsCapture?>(nil)
    let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connectTimeout(TimeAmount(configuration.connectTimeout))
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          let handler = PeerCredentialsCapture(eventLoop: channel.eventLoop)
          capture.withLock { $0 = handler }
          try channel.pipeline.syncOperations.addHandler(handler)
          try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(FrameDecoder(maximumFrameBytes: configuration.maximumFrameBytes)))
          try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
          try channel.pipeline.syncOperations.addHandler(
            ResponseHandler(pending: pending, socketPath: socketPath))
        }
      }
    let channel: any Channel
    let server: Result<PeerCredentials, any Error>
    do {
      // Who listens is read as the connection becomes active, before anything is read
      // from it (`PeerCredentialsCapture`).
      (channel, server) = try await bootstrap.connect(unixDomainSocketPath: socketPath).flatMap { channel in
        guard let handler = capture.withLock({ $0 }) else {
          return channel.eventLoop.makeSucceededFuture((channel, .failure(ChannelError.ioOnClosedChannel)))
        }
        return handler.credentials.futureResult.map { (channel, .success($0)) }.recover { (channel, .failure($0)) }
      }.get()
    } catch {
      throw ResumableClientError(
        connecting: error, socketPath: socketPath, timeout: configuration.connectTimeout)
    }
    do {
      try checkServerUser(server, socketPath: socketPath, trusting: configuration.trustedServerUID)
    } catch {
      channel.close(promise: nil)
      throw error
    }
    return ResumableClient(
      socketPath: socketPath, configuration: configuration, channel: channel, pending: pending)
  }

  /// Closes the connection. Calls still waiting fail with `.unavailable`, and so does every call
  /// made afterwards. Runs on the server are not affected.
  public func close() async {
    pending.failAll(
      with: ResumableClientError(
        code: .unavailable, message: "the client was closed before the answer arrived"),
      closedWith: ResumableClientError(code: .unavailable, message: "the client is closed"))
    try? await channel.close()
  }

  // MARK: - Calls

  /// Sends `request` as the unary `method` and returns the decoded response; the typed
  /// methods (`startWorkflow`, `getState`, …) come from `ResumableUnaryCalls`, generated
  /// from the .proto's service.
  /// - Parameter timeout: How long to wait for the answer; nil uses the configuration's default.
  /// - Throws: ``ResumableClientError``: the server's status, or a client-side failure.
  public func call<Request: WireMessage, Response: WireMessage>(
    _ method: Method, _ request: Request, timeout: Duration?
  ) async throws(ResumableClientError) -> Response {
    let id = pending.nextRequestID()
    var envelope = Envelope(requestID: id, method: method.rawValue, payload: request.protobufBytes())
    let timeout = timeout ?? configuration.defaultCallTimeout
    let deadlineError = ResumableClientError(
      code: .deadlineExceeded,
      message: "no answer to \(method.rawValue) within \(timeout.map(Self.describe) ?? "")"
        + " (the call's timeout); a run it started keeps going on the server")
    var deadline: NIODeadline?
    if let timeout {
      guard timeout > .zero else { throw deadlineError }
      envelope.timeoutMilliseconds = Self.milliseconds(roundingUp: timeout)
      deadline = .now() + TimeAmount(timeout)
    }

    let frame = ByteBuffer(bytes: envelope.protobufBytes())
    let (channel, pending, socketPath) = (self.channel, self.pending, self.socketPath)
    let result = await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: PendingCalls.Continuation) in
        let timer = deadline.map { deadline in
          channel.eventLoop.scheduleTask(deadline: deadline) {
            pending.fail(id, with: deadlineError)
          }
        }
        guard
          pending.register(
            id, continuation, deadline: deadline, timer: timer, deadlineError: deadlineError)
        else { return }
        Self.send(frame, id: id, method: method, on: channel, pending: pending, socketPath: socketPath)
      }
    } onCancel: {
      pending.fail(id, with: .callCancelled)
    }

    let answer = try result.get()
    guard answer.statusCode == .ok else {
      throw ResumableClientError(
        answer: answer, otherwise: "the server answered \(method.rawValue) with \(answer.statusCode)")
    }
    do {
      return try Response(protobufBytes: answer.payload)
    } catch {
      throw ResumableClientError(
        code: .internal,
        message: "the server's answer to \(method.rawValue) could not be decoded: \(error)",
        cause: error)
    }
  }

  /// Whole milliseconds, rounded up so that a short timeout is never sent as 0 ("no deadline").
  static func milliseconds(roundingUp duration: Duration) -> UInt64 {
    let (seconds, attoseconds) = duration.components
    let fraction = attoseconds > 0 ? (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000 : 0
    let (whole, overflow) = UInt64(clamping: seconds).multipliedReportingOverflow(by: 1000)
    return overflow ? .max : whole.addingReportingOverflow(UInt64(clamping: fraction)).partialValue
  }

  private static func describe(_ duration: Duration) -> String {
    let ms = milliseconds(roundingUp: duration)
    return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
  }
}
