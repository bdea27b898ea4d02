import Logging
import NIOCore

/// Closes a connection whose peer has stopped reading.
///
/// NIO makes a channel unwritable once more than its high watermark (64 KiB)
/// of writes is queued; the connection's async writer then suspends every
/// response until it is writable again, so a peer that never reads costs at
/// most that, plus one response per request in flight. If the channel stays
/// unwritable for `timeout`, this handler closes it: the suspended writes
/// fail and their memory is released.
///
/// - Important: event-loop bound, like every channel handler.
final class WriteStallHandler: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer

  private var deadline: ConnectionDeadline

  init(timeout: Duration, logger: Logger) {
    deadline = ConnectionDeadline(timeout: timeout, logger: logger, reason: "write_stalled") {
      "closing a connection whose peer read nothing for \($0) ms while answers waited"
    }
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    if context.channel.isWritable {
      deadline.cancel()
    } else {
      deadline.arm(context) { !$0.isWritable }
    }
    context.fireChannelWritabilityChanged()
  }

  func channelInactive(context: ChannelHandlerContext) {
    deadline.cancel()
    context.fireChannelInactive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    context.fireChannelRead(data)
  }
}
