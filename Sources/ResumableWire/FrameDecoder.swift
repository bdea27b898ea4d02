public import NIOCore

/// Splits a byte stream into frames: a 4-byte big-endian unsigned length `N`,
/// then `N` bytes of body (docs/Contract.md §3). Emits each body as a `ByteBuffer`.
///
/// The limit is enforced as soon as a length prefix arrives, before any of
/// its body is buffered, so a hostile prefix costs 4 bytes of memory, not
/// 4 GiB. A zero-length frame is valid and emits an empty buffer (an envelope
/// with every field at its default).
///
/// End of input in the middle of a frame throws `TruncatedFrameError` from
/// `decodeLast`; the partial frame is dropped.
///
/// Use it through `ByteToMessageHandler(FrameDecoder())`.
/// - Important: after it throws, the stream is not at a frame boundary any
///   more; close the connection.
public struct FrameDecoder: ByteToMessageDecoder, Sendable {
  /// The frame body.
  public typealias InboundOut = ByteBuffer

  /// The default largest body: 4 MiB (4,194,304 bytes).
  public static let defaultMaximumFrameBytes = 4 * 1024 * 1024

  /// The size of the length prefix, in bytes.
  static let prefixBytes = 4

  /// The largest body accepted, in bytes.
  public let maximumFrameBytes: Int

  /// Creates a decoder.
  /// - Parameter maximumFrameBytes: the largest body accepted, in bytes; a
  ///   longer one throws `FrameTooLargeError`. Must not be negative.
  public init(maximumFrameBytes: Int = FrameDecoder.defaultMaximumFrameBytes) {
    precondition(maximumFrameBytes >= 0, "maximumFrameBytes must not be negative")
    self.maximumFrameBytes = maximumFrameBytes
  }

  /// Emits the next frame's body once it has arrived in full.
  /// - Throws: `FrameTooLargeError` as soon as a prefix announces more than the limit.
  public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws
    -> DecodingState
  {
    guard let body = try nextFrame(in: &buffer) else { return .needMoreData }
    context.fireChannelRead(Self.wrapInboundOut(body))
    return .continue
  }

  /// Emits the remaining complete frames at end of input.
  /// - Throws: `TruncatedFrameError` when input ended (`seenEOF`) inside a
  ///   frame, `FrameTooLargeError` as in `decode`.
  public mutating func decodeLast(
    context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
  ) throws -> DecodingState {
    if let body = try nextFrame(in: &buffer) {
      context.fireChannelRead(Self.wrapInboundOut(body))
      return .continue
    }
    if seenEOF, buffer.readableBytes > 0 {
      let frameBytes = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self).map { Int($0) }
      throw TruncatedFrameError(frameBytes: frameBytes, receivedBytes: buffer.readableBytes)
    }
    return .needMoreData
  }

  /// Reads the next frame's body from `buffer` if all of it is there.
  private func nextFrame(in buffer: inout ByteBuffer) throws(FrameTooLargeError) -> ByteBuffer? {
    guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else {
      return nil
    }
    guard UInt64(length) <= UInt64(maximumFrameBytes) else {
      throw FrameTooLargeError(frameBytes: Int(length), maximumFrameBytes: maximumFrameBytes)
    }
    guard buffer.readableBytes - Self.prefixBytes >= Int(length) else { return nil }
    buffer.moveReaderIndex(forwardBy: Self.prefixBytes)
    return buffer.readSlice(length: Int(length))
  }
}
