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
final class RedisChannelHandler: ChannelDuplexHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundIn = RedisRequest
  typealias OutboundOut = ByteBuffer

  private struct Pending {
    var remaining: Int
    var replies: [RESPValue]
    let promise: EventLoopPromise<[RESPValue]>
  }

  private enum State {
    case open
    /// The error that closed the connection, given to every request that arrives later.
    case closed(RedisError)
  }

  private let reader = RESPReader()
  private var pending = CircularBuffer<Pending>()
  /// A flush is queued on the event loop: writes until it runs share one syscall.
  private var flushQueued = false
  private var state = State.open
  private let logger: Logger
  private let address: RedisAddress

  init(address: RedisAddress, logger: Logger) {
    self.address = address
    self.logger = logger
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
    pending.append(
      Pending(remaining: request.commands.count, replies: replies, promise: request.promise))
    // Write errors close the channel; `channelInactive` then fails this request.
    context.write(wrapOutboundOut(buffer), promise: nil)
  }

  /// Coalesces flushes: the first flush of an event-loop tick is queued behind
  /// the work already queued on the loop, so the requests that many tasks
  /// write meanwhile go out in one `write` (and reach Redis in one read)
  /// instead of one syscall each. A lone request waits only for that queue.
  func flush(context: ChannelHandlerContext) {
    guard !flushQueued else { return }
    flushQueued = true
    context.eventLoop.assumeIsolated().execute {
      self.flushQueued = false
      context.flush()
    }
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .open = state else { return }
    do throws(RedisError) {
      try reader.feed(unwrapInboundIn(data))
      while let reply = try reader.next() {
        guard !pending.isEmpty else {
          throw RedisError.protocolError("Redis sent a reply nobody asked for: \(reply)")
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

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    fail(with: .connectionLost("the connection to Redis at \(address) failed", cause: error))
    context.close(promise: nil)
  }

  func channelInactive(context: ChannelHandlerContext) {
    fail(with: .connectionLost("the connection to Redis at \(address) was closed"))
    context.fireChannelInactive()
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
    guard !pending.isEmpty else { return }
    var inFlight = closing
    if inFlight.code == .connectionLost {
      inFlight.message += "; the \(pending.count) request(s) in flight may or may not have run"
    }
    while let request = pending.popFirst() {
      request.promise.fail(inFlight)
    }
  }
}
