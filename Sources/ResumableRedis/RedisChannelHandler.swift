import Logging
import NIOCore

/// Commands written to a Redis channel together, and where their replies go.
struct RedisRequest: Sendable {
  var commands: [[RedisArgument]]
  /// Completed by `RedisChannelHandler` with one reply per command, in order.
  var promise: EventLoopPromise<[RESPValue]>
}

/// RESP codec and reply matcher for one Redis connection.
///
/// Outbound `RedisRequest`s are encoded with hiredis and written; their promises wait in a
/// FIFO. Inbound bytes go through the hiredis reader and each reply completes the oldest
/// waiting request, which is what makes pipelining work: many requests, from many tasks, can
/// be in flight on one connection at once.
///
/// The write promise of a `RedisRequest` means "the handler took charge of the request's
/// promise": it succeeds as soon as the request is queued (or failed here), so whoever wrote
/// the request only needs to fail the request's promise when the *write* fails, which
/// happens only when the handler never saw it (the channel was already torn down).
///
/// With a command timeout, each request gets a deadline when it is queued; one timer, on
/// the channel's event loop, watches the oldest. When the oldest passes its deadline Redis
/// is taken to be stuck (replies come in order, so nothing behind it can be answered
/// either): every request in flight fails with `timedOut` and the channel closes, so the
/// next command reconnects.
final class RedisChannelHandler: ChannelDuplexHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundIn = RedisRequest
  typealias OutboundOut = ByteBuffer

  private struct Pending {
    var remaining: Int
    var replies: [RESPValue]
    let promise: EventLoopPromise<[RESPValue]>
    /// When the request is late: its reply should have come by then.
    let deadline: NIODeadline
  }

  private enum State {
    case open
    /// The error that closed the connection, given to every request that arrives later.
    case closed(RedisError)
  }

  private let reader = RESPReader()
  private var pending = CircularBuffer<Pending>()
  private var state = State.open
  private let logger: Logger
  private let address: RedisAddress
  /// How long a request may wait for its reply; nil: forever.
  private let commandTimeout: Duration?
  /// Fires at the oldest request's deadline (or later); at most one is scheduled.
  private var deadlineTimer: Scheduled<Void>?
  /// Where replies nobody asked for go on a subscribed connection (pub/sub messages);
  /// nil: such a reply is a protocol error.
  private let onPush: (@Sendable (RESPValue) -> Void)?

  init(
    address: RedisAddress, commandTimeout: Duration?, logger: Logger,
    onPush: (@Sendable (RESPValue) -> Void)? = nil
  ) {
    self.address = address
    self.commandTimeout = commandTimeout
    self.logger = logger
    self.onPush = onPush
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    let request = unwrapOutboundIn(data)
    promise?.succeed()
    if case .closed(var error) = state {
      error.wasNotSent = true
      request.promise.fail(error)
      return
    }
    guard !request.commands.isEmpty else {
      request.promise.succeed([])
      return
    }
    var buffer = context.channel.allocator.buffer(capacity: 64)
    do {
      for command in request.commands { try Hiredis.encode(command, into: &buffer) }
    } catch {
      request.promise.fail(error)
      return
    }
    var replies: [RESPValue] = []
    replies.reserveCapacity(request.commands.count)
    let deadline = commandTimeout.map { NIODeadline.now() + TimeAmount($0) } ?? .distantFuture
    pending.append(
      Pending(
        remaining: request.commands.count, replies: replies, promise: request.promise,
        deadline: deadline))
    if deadlineTimer == nil, commandTimeout != nil { scheduleDeadlineCheck(at: deadline, context) }
    // Write errors close the channel; `channelInactive` then fails this request.
    context.write(wrapOutboundOut(buffer), promise: nil)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .open = state else { return }
    do throws(RedisError) {
      try reader.feed(unwrapInboundIn(data))
      while let reply = try reader.next() {
        guard !pending.isEmpty else {
          guard let onPush else {
            throw RedisError.protocolError("Redis sent a reply nobody asked for: \(reply)")
          }
          onPush(reply)
          continue
        }
        let head = pending.startIndex
        pending[head].replies.append(reply)
        pending[head].remaining -= 1
        if pending[head].remaining == 0 {
          let done = pending.removeFirst()
          done.promise.succeed(done.replies)
        }
      }
    } catch {
      logger.error(
        "closing the Redis connection", metadata: ["address": "\(address)", "error": "\(error)"])
      fail(with: error)
      context.close(promise: nil)
    }
  }

  /// Checks the oldest request at `deadline`: late, it fails everything in flight and
  /// closes the channel; on time (or answered), the check moves to the new oldest one.
  private func scheduleDeadlineCheck(at deadline: NIODeadline, _ context: ChannelHandlerContext) {
    deadlineTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
      self.deadlineTimer = nil
      guard case .open = self.state, let oldest = self.pending.first else { return }
      guard oldest.deadline <= .now() else {
        self.scheduleDeadlineCheck(at: oldest.deadline, context)
        return
      }
      let waited = self.commandTimeout.map(\.secondsText) ?? "its deadline"
      let error = RedisError.timedOut(
        "Redis at \(self.address) did not answer within \(waited); the connection was dropped "
          + "and the next command reconnects")
      self.logger.warning(
        "closing the Redis connection", metadata: ["address": "\(self.address)", "error": "\(error)"])
      self.fail(with: error)
      context.close(promise: nil)
    }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    fail(with: .connectionLost("the connection to Redis at \(address) failed: \(RedisError.reason(error))", cause: error))
    context.close(promise: nil)
  }

  func channelInactive(context: ChannelHandlerContext) {
    fail(with: .connectionLost("the connection to Redis at \(address) was closed"))
    context.fireChannelInactive()
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    deadlineTimer?.cancel()
    deadlineTimer = nil
  }

  /// Fails every request in flight with `error` (the first error that closes the
  /// connection wins); requests written later get the same error, marked as not sent.
  private func fail(with error: RedisError) {
    let closing: RedisError
    if case .closed(let first) = state {
      closing = first
    } else {
      closing = error
      state = .closed(error)
    }
    deadlineTimer?.cancel()
    deadlineTimer = nil
    guard !pending.isEmpty else { return }
    var inFlight = closing
    if inFlight.mayHaveRun {
      inFlight.message += "; the \(pending.count) request(s) in flight may or may not have run"
    }
    while let request = pending.popFirst() {
      request.promise.fail(inFlight)
    }
  }
}
