import NIOCore
import ResumableSocket

/// Reads who listens as the connection becomes active, before the event loop
/// reads anything from it: a server that answers and closes at once (one
/// refusing this user) cannot close the socket before its credentials are read.
final class PeerCredentialsCapture: ChannelInboundHandler, Sendable {
  typealias InboundIn = NIOAny

  /// Succeeds with the credentials, or fails with the `getsockopt` error.
  let credentials: EventLoopPromise<PeerCredentials>

  init(eventLoop: any EventLoop) {
    credentials = eventLoop.makePromise()
  }

  func channelActive(context: ChannelHandlerContext) {
    PeerCredentials.future(of: context.channel).cascade(to: credentials)
    context.fireChannelActive()
  }

  func channelInactive(context: ChannelHandlerContext) {
    // Closed before it was ever active (a failed connect): nothing to read.
    credentials.fail(ChannelError.ioOnClosedChannel)
    context.fireChannelInactive()
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    credentials.fail(ChannelError.ioOnClosedChannel)
  }
}
