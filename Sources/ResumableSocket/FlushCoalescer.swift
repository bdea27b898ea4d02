public import NIOCore

/// Coalesces flushes on a channel: the first flush of an event-loop tick is
/// queued behind the work already queued on the loop, so the frames that
/// concurrent requests write meanwhile leave in one `write` syscall instead
/// of one each (and, towards Redis, reach it in one read). A lone frame
/// waits only for the work queued before it. The server's connections and
/// the Redis client's both use it.
///
/// - Important: Add it at the head end of the pipeline (before any handler
///   that writes), so every flush passes through it. Used on one event loop only.
public final class FlushCoalescer: ChannelOutboundHandler {
  public typealias OutboundIn = NIOAny

  private var flushQueued = false

  public init() {}

  public func flush(context: ChannelHandlerContext) {
    guard !flushQueued else { return }
    flushQueued = true
    context.eventLoop.assumeIsolated().execute {
      self.flushQueued = false
      context.flush()
    }
  }

  /// Flushes what is written before closing: a last error frame is sent, not dropped.
  public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
    if flushQueued { context.flush() }
    context.close(mode: mode, promise: promise)
  }
}
