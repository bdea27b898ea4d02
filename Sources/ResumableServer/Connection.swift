import Logging
import NIOCore
import ResumableSocket
import ResumableWire
import Synchronization

/// One client connection: checks who it is and whether there is room for it,
/// reads frames, answers each request in its own task (so pipelined requests
/// proceed together and answer in any order), and writes each response as
/// one frame — a server-streaming call as several, in order, the last one
/// with `endOfStream`.
///
/// A peer not on the allow-list gets one `PERMISSION_DENIED` frame, a
/// connection beyond the connection limit one `RESOURCE_EXHAUSTED` frame, and
/// either is closed. A request beyond the per-connection limit is answered
/// `RESOURCE_EXHAUSTED`. A frame over the size limit or bytes that are not an
/// envelope get one error frame (request id 0) and the connection is closed;
/// the server goes on serving everyone else.
struct Connection {
  let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
  let dispatcher: Dispatcher
  let registry: ConnectionRegistry
  let access: AccessPolicy
  let limits: ServerLimits
  let logger: Logger

  func serve() async {
    var logger = self.logger
    let peer: PeerCredentials?
    do {
      peer = try await PeerCredentials.of(channel.channel)
    } catch {
      peer = nil
      logger.warning("cannot read a peer's credentials: \(error)")
    }
    if let peer {
      logger[metadataKey: "peer_uid"] = "\(peer.uid)"
      logger[metadataKey: "peer_gid"] = "\(peer.gid)"
      logger[metadataKey: "peer_pid"] = "\(peer.pid)"
    }
    if access.checksPeers {
      guard let peer else {
        await refuse(
          RPCFailure(.permissionDenied, "the server cannot tell who you are (SO_PEERCRED failed); connection refused"),
          metric: "peer_unknown")
        return
      }
      if let reason = access.refusal(of: peer) {
        logger.warning("refused a connection: peer not allowed")
        await refuse(RPCFailure(.permissionDenied, reason, setting: .allowedPeers), metric: "permission_denied")
        return
      }
    }
    guard let id = registry.add(channel.channel, limit: limits.maximumConnections) else {
      logger.notice("refused a connection: \(limits.maximumConnections) connections open, the limit")
      await refuse(RPCFailure.limitReached(.maximumConnections, limits.maximumConnections), metric: "too_many_connections")
      return
    }
    defer { registry.remove(id) }
    ServerMetrics.connectionOpened()
    defer { ServerMetrics.connectionClosed() }
    let activity = ConnectionActivity()
    let limits = self.limits
    let channel = self.channel
    let dispatcher = self.dispatcher
    let registry = self.registry
    let connectionLogger = logger
    let executor = EventLoopExecutor.shared(for: channel.channel.eventLoop)
    do {
      try await channel.executeThenClose { inbound, outbound in
        try await withThrowingDiscardingTaskGroup { requests in
          defer { requests.cancelAll() }
          if let idle = limits.idleTimeout {
            requests.addTask {
              guard await activity.waitUntilIdle(for: idle) else { return }
              connectionLogger.debug("closing a connection idle for \(idle)")
              ServerMetrics.connectionClosedByServer(reason: "idle")
              channel.channel.close(promise: nil)
            }
          }
          do {
            for try await frame in inbound {
              activity.frameReceived()
              let request: Envelope
              do {
                request = try Envelope(frameBody: frame)
              } catch {
                try await outbound.write(
                  Self.connectionError(
                    RPCFailure(.invalidArgument, "the frame is not a resumable.v1.Envelope (\(error)); closing the connection")))
                return
              }
              if let method = Method(rawValue: request.method), method.isWorkerAnswer {
                // Answered here, in the read loop, with no task of its own: a
                // worker's answer only hands its result to the attempt waiting
                // for it (a step's latency is on this path).
                let response = await dispatcher.respondNow(to: request, method: method)
                try await outbound.write(response.frameBody(allocator: ByteBufferAllocator()))
                continue
              }
              let bytes = frame.readableBytes
              if let failure = activity.beginRequest(bytes: bytes, limits: limits) {
                ServerMetrics.rpcRefused(method: request.method, code: failure.status)
                var response = Envelope(requestID: request.requestID, method: request.method, endOfStream: true)
                response.fail(with: failure)
                try await outbound.write(response.frameBody(allocator: ByteBufferAllocator()))
                continue
              }
              registry.requestStarted()
              requests.addTask {
                defer {
                  registry.requestFinished()
                  activity.endRequest(bytes: bytes)
                }
                if Method(rawValue: request.method)?.isServerStreaming == true {
                  let direct: any Channel = channel.channel
                  await dispatcher.stream(
                    request, peer: peer, executor: executor,
                    send: { @Sendable (frame: Envelope) async throws -> Void in
                      try await outbound.write(frame.frameBody(allocator: ByteBufferAllocator()))
                    },
                    writeNow: { @Sendable (frame: Envelope) -> Void in
                      let body: ByteBuffer = frame.frameBody(allocator: ByteBufferAllocator())
                      direct.writeAndFlush(body, promise: nil)
                    })
                  return
                }
                let response = await dispatcher.respond(to: request)
                try? await outbound.write(response.frameBody(allocator: ByteBufferAllocator()))
              }
            }
          } catch let error as FrameTooLargeError {
            connectionLogger.notice("closing a connection: \(error)")
            try? await outbound.write(Self.connectionError(RPCFailure.frameTooLarge(error)))
          }
        }
      }
    } catch {
      logger.debug("connection ended: \(error)")
    }
  }

  /// Answers a connection that may not be served with one frame, then closes it.
  private func refuse(_ failure: RPCFailure, metric: String) async {
    ServerMetrics.connectionRefused(reason: metric)
    // Awaits the flush itself: the async writer only queues, and a close
    // right behind a queued write can drop it.
    let channel = self.channel
    try? await channel.executeThenClose { _, _ in
      try await channel.channel.writeAndFlush(Self.connectionError(failure)).get()
    }
  }

  /// A frame about the connection (request id 0), not about one call.
  static func connectionError(_ failure: RPCFailure) -> ByteBuffer {
    var envelope = Envelope(requestID: 0, endOfStream: true)
    envelope.fail(with: failure)
    return envelope.frameBody(allocator: ByteBufferAllocator())
  }
}

/// What one connection is doing: requests in flight and the last sign of
/// life, for the per-connection limit and the idle timeout.
final class ConnectionActivity: Sendable {
  private struct State {
    var inFlight = 0
    var inFlightBytes = 0
    var lastActivity = ContinuousClock.now
  }

  private let state = Mutex(State())

  func frameReceived() { state.withLock { $0.lastActivity = .now } }

  /// Counts a request of `bytes` in, or returns the refusal when the
  /// per-connection count or byte limit would be passed (a request alone
  /// is always let in: the frame size limit bounds it).
  func beginRequest(bytes: Int, limits: ServerLimits) -> RPCFailure? {
    state.withLock { state in
      guard state.inFlight < limits.maximumRequestsPerConnection else {
        return .limitReached(.maximumRequestsPerConnection, limits.maximumRequestsPerConnection)
      }
      guard state.inFlight == 0 || state.inFlightBytes + bytes <= limits.maximumRequestBytesPerConnection else {
        return .limitReached(.maximumRequestBytesPerConnection, limits.maximumRequestBytesPerConnection)
      }
      state.inFlight += 1
      state.inFlightBytes += bytes
      return nil
    }
  }

  func endRequest(bytes: Int) {
    state.withLock { state in
      state.inFlight -= 1
      state.inFlightBytes -= bytes
      state.lastActivity = .now
    }
  }

  /// Returns true once the connection has had no request in flight and no
  /// frame for `timeout`; false when cancelled first.
  func waitUntilIdle(for timeout: Duration) async -> Bool {
    while !Task.isCancelled {
      let (inFlight, last) = state.withLock { ($0.inFlight, $0.lastActivity) }
      let idleFor = ContinuousClock.now - last
      if inFlight == 0, idleFor >= timeout { return true }
      let wait = inFlight > 0 ? timeout : timeout - idleFor
      guard (try? await Task.sleep(for: wait)) != nil else { return false }
    }
    return false
  }
}

/// The open connections and the requests in flight, so shutdown can close
/// the connections once every request has had its answer written.
final class ConnectionRegistry: Sendable {
  private struct State {
    var next = 0
    var open: [Int: any Channel] = [:]
    var requestsInFlight = 0
  }

  private let state = Mutex(State())

  /// Registers a connection, or returns nil when `limit` are open already.
  func add(_ channel: any Channel, limit: Int = .max) -> Int? {
    state.withLock { state in
      guard state.open.count < limit else { return nil }
      defer { state.next += 1 }
      state.open[state.next] = channel
      return state.next
    }
  }

  func remove(_ id: Int) {
    _ = state.withLock { $0.open.removeValue(forKey: id) }
  }

  func requestStarted() { state.withLock { $0.requestsInFlight += 1 } }
  func requestFinished() { state.withLock { $0.requestsInFlight -= 1 } }

  /// Waits (up to `patience`) for requests in flight to answer, then closes
  /// every connection.
  func closeAll(patience: Duration = .seconds(5)) async {
    let deadline = ContinuousClock.now + patience
    while state.withLock({ $0.requestsInFlight > 0 }) && ContinuousClock.now < deadline {
      try? await Task.sleep(for: .milliseconds(10))
    }
    let open = state.withLock { Array($0.open.values) }
    for channel in open { try? await channel.close() }
  }
}
