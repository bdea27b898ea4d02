import Logging
import NIOCore

/// Closes a connection whose frame, once begun, does not arrive in full in time.
///
/// The frame decoder holds a partial frame (up to the frame size limit) until
/// its last byte arrives; a peer that sends a large length prefix and then
/// trickles, or sends nothing more, would otherwise hold that memory until the
/// idle timeout. This handler, ahead of the decoder, follows the frame
/// boundaries of the bytes that pass (it buffers nothing: it counts) and
/// starts a timer when a frame begins; the timer is cancelled when the frame
/// is complete. At the deadline the connection is closed.
///
/// - Important: event-loop bound, like every channel handler.
final class FrameArrivalHandler: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer

  private var deadline: ConnectionDeadline
  /// Bytes of the current frame's length prefix seen so far (at most 4).
  private var prefix: [UInt8] = []
  /// Body bytes still to come of the current frame, once its prefix is whole.
  private var remaining = 0

  init(timeout: Duration, logger: Logger) {
    deadline = ConnectionDeadline(timeout: timeout, logger: logger, reason: "frame_timeout") {
      "closing a connection whose frame did not arrive in full within \($0) ms"
    }
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var buffer = unwrapInboundIn(data)
    var frameEnded = false
    while buffer.readableBytes > 0 {
      if remaining > 0 {
        let taken = min(remaining, buffer.readableBytes)
        buffer.moveReaderIndex(forwardBy: taken)
        remaining -= taken
        frameEnded = frameEnded || remaining == 0
      } else if let byte = buffer.readInteger(as: UInt8.self) {
        prefix.append(byte)
        if prefix.count == 4 {
          remaining = prefix.reduce(0) { $0 << 8 | Int($1) }
          prefix.removeAll(keepingCapacity: true)
          frameEnded = frameEnded || remaining == 0
        }
      }
    }
    // Once per read, not per frame: a frame that arrives whole in one read
    // (the usual case) schedules no timer at all. A frame begun in the read
    // that ended another gets a deadline of its own.
    if frameEnded { deadline.cancel() }
    if remaining > 0 || !prefix.isEmpty { deadline.arm(context) }
    context.fireChannelRead(data)
  }

  func channelInactive(context: ChannelHandlerContext) {
    deadline.cancel()
    context.fireChannelInactive()
  }
}
