import Foundation
import Logging
import NIOCore
import NIOPosix
import ResumableSocket
import ResumableWire

/// The listening socket: bound with the transport's rules, handing each
/// accepted connection (its pipeline set up) to `AcceptedConnections`.
struct SocketListener {
  private let channel: any Channel
  private let accepted: AcceptedConnections<ByteBuffer, ByteBuffer>

  /// Prepares the socket path (`SocketFile`), binds, and applies the access
  /// policy to the socket file.
  /// - Throws: `ServerError` naming the path and the cause.
  static func bind(
    _ transport: ServerConfiguration, into accepted: AcceptedConnections<ByteBuffer, ByteBuffer>, logger: Logger
  ) async throws -> SocketListener {
    let group = MultiThreadedEventLoopGroup.singleton
    try await SocketFile.prepare(path: transport.socketPath, group: group)
    let maximumFrameBytes = transport.maximumFrameBytes
    let writeStallTimeout = transport.limits.writeStallTimeout
    let frameArrivalTimeout = transport.limits.frameArrivalTimeout
    // The socket file is created by bind(): a restrictive umask makes it 0600
    // from its first instant; chmod then applies the configured mode.
    let previousMask = umask(0o177)
    let channel: any Channel
    do {
      channel = try await ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 256)
        .childChannelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(FlushCoalescer())
            try channel.pipeline.syncOperations.addHandler(WriteStallHandler(timeout: writeStallTimeout, logger: logger))
            try channel.pipeline.syncOperations.addHandler(FrameArrivalHandler(timeout: frameArrivalTimeout, logger: logger))
            try channel.pipeline.syncOperations.addHandler(
              ByteToMessageHandler(FrameDecoder(maximumFrameBytes: maximumFrameBytes)))
            try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
            let connection = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            // Refused once shutting down: failing here closes the connection
            // before it is active, which NIO cleans up safely.
            guard accepted.offer(connection) else { throw ChannelError.ioOnClosedChannel }
          }
        }
        .bind(unixDomainSocketPath: transport.socketPath, cleanupExistingSocketFile: false).get()
      umask(previousMask)
    } catch {
      umask(previousMask)
      throw ServerError("cannot listen on '\(transport.socketPath)': \(error)")
    }
    let listener = SocketListener(channel: channel, accepted: accepted)
    do {
      try transport.access.apply(toSocketAt: transport.socketPath)
    } catch {
      await listener.close()
      throw error
    }
    return listener
  }

  /// Stops accepting, and closes the connections accepted but not yet taken.
  func close() async {
    try? await channel.close()
    await accepted.closeRemaining()
  }
}
