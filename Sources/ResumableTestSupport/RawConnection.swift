import NIOCore
import NIOPosix
public import ResumableWire
import Testing

/// A raw connection: writes arbitrary bytes, reads frames back.
public final class RawConnection {
  private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
  private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
  private var buffer = ByteBuffer()

  private init(outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, inbound: NIOAsyncChannelInboundStream<ByteBuffer>) {
    self.outbound = outbound
    self.inbound = inbound.makeAsyncIterator()
  }

  /// Connects to `path` and runs `body`; the connection is closed afterwards.
  public static func with(_ path: String, _ body: (RawConnection) async throws -> Void) async throws {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connect(unixDomainSocketPath: path) { channel in
        channel.eventLoop.makeCompletedFuture {
          try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
      }
    try await channel.executeThenClose { inbound, outbound in
      try await body(RawConnection(outbound: outbound, inbound: inbound))
    }
  }

  /// Writes `bytes` as they are.
  public func send(_ bytes: [UInt8]) async throws {
    try await outbound.write(ByteBuffer(bytes: bytes))
  }

  /// Writes `envelope` as one frame: its length, then its protobuf bytes.
  public func send(_ envelope: Envelope) async throws {
    let body = envelope.protobufBytes()
    try await send(Self.prefix(body.count) + body)
  }

  /// A frame's length prefix: 4 bytes, big-endian.
  public static func prefix(_ length: Int) -> [UInt8] {
    withUnsafeBytes(of: UInt32(length).bigEndian) { Array($0) }
  }

  /// The next frame, or nil when the server closed the connection first.
  public func nextFrame() async throws -> Envelope? {
    while true {
      if let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
        buffer.readableBytes >= 4 + Int(length)
      {
        buffer.moveReaderIndex(forwardBy: 4)
        return try Envelope(frameBody: buffer.readSlice(length: Int(length))!)
      }
      guard var chunk = try await inbound.next() else { return nil }
      buffer.writeBuffer(&chunk)
    }
  }

  /// Every frame the server sends until it closes the connection; fails
  /// the test when it does not close within a few seconds.
  public func framesUntilClose() async throws -> [Envelope] {
    let deadline = ContinuousClock.now + .seconds(5)
    var frames: [Envelope] = []
    while ContinuousClock.now < deadline {
      guard let frame = try await nextFrame() else { return frames }
      frames.append(frame)
    }
    Issue.record("the server did not close the connection")
    return frames
  }
}
