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

  private let timeout: TimeAmount
  private let logger: Logger
  private var timer: Scheduled<Void>?

  init(timeout: Duration, logger: Logger) {
    self.timeout = TimeAmount(timeout)
    self.logger = logger
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    if context.channel.isWritable {
      timer?.cancel()
      timer = nil
    } else if timer == nil {
      let channel = context.channel
      let logger = self.logger
      let timeout = self.timeout
      timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
        guard !channel.isWritable else { return }
        logger.notice(
          "closing a connection whose peer read nothing for \(timeout.nanoseconds / 1_000_000) ms while answers waited")
        ServerMetrics.connectionClosedByServer(reason: "write_stalled")
        channel.close(promise: nil)
      }
    }
    context.fireChannelWritabilityChanged()
  }

  func channelInactive(context: ChannelHandlerContext) {
    timer?.cancel()
    timer = nil
    context.fireChannelInactive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    context.fireChannelRead(data)
  }
}
