import NIOCore
import ResumableWire

/// The last handler of a client channel: decodes each frame as an `Envelope` and hands it to the
/// call waiting for it; fails every waiting call when the connection ends or breaks.
///
/// Framing and decoding only; no business logic runs on the event loop.
final class ResponseHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer

  private let pending: PendingCalls
  private let socketPath: String

  init(pending: PendingCalls, socketPath: String) {
    self.pending = pending
    self.socketPath = socketPath
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let frame = unwrapInboundIn(data)
    let envelope: Envelope
    do {
      envelope = try Envelope(protobufBytes: Array(buffer: frame))
    } catch {
      failConnection(
        context: context,
        with: ResumableClientError(
          code: .internal,
          message: "the server at \(socketPath) sent a frame that is not a valid envelope: \(error)",
          cause: error))
      return
    }
    guard envelope.requestID != 0 else {
      // Request id 0: the server speaks about the connection, not about one call.
      if envelope.statusCode != .ok {
        failConnection(
          context: context,
          with: ResumableClientError(answer: envelope, otherwise: "the server reported a connection error"))
      }
      return
    }
    pending.succeed(envelope.requestID, with: envelope)
  }

  func channelInactive(context: ChannelHandlerContext) {
    pending.failAll(
      with: ResumableClientError(
        code: .unavailable,
        message: "the connection to the server at \(socketPath) closed before the answer arrived"))
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    let failure: ResumableClientError
    if error is IOError {
      failure = ResumableClientError(
        code: .unavailable,
        message: "the connection to the server at \(socketPath) failed: \(error)", cause: error)
    } else {
      failure = ResumableClientError(
        code: .internal,
        message: "the server at \(socketPath) sent bytes the client cannot read: \(error)",
        cause: error)
    }
    failConnection(context: context, with: failure)
  }

  /// Fails every waiting call with `error` and closes the connection: after a connection-level
  /// error, the stream can no longer be trusted (the server closes it too).
  private func failConnection(context: ChannelHandlerContext, with error: ResumableClientError) {
    pending.failAll(
      with: error,
      closedWith: ResumableClientError(
        code: .unavailable,
        message: "the connection to the server at \(socketPath) was closed after an error: "
          + "\(error.code): \(error.message)",
        setting: error.setting))
    context.close(promise: nil)
  }
}
