public import NIOCore

/// Frames outbound bodies: writes a 4-byte big-endian length prefix, then
/// the body (docs/Contract.md §3). The counterpart of `FrameDecoder`.
///
/// Use it through `MessageToByteHandler(FrameEncoder())`. It enforces no
/// limit beyond what the prefix can announce; a sender that must respect the
/// peer's limit checks the body size before writing.
public struct FrameEncoder: MessageToByteEncoder, Sendable {
  /// The frame body.
  public typealias OutboundIn = ByteBuffer

  /// Creates an encoder.
  public init() {}

  /// Writes the prefix and the body into `out`.
  /// - Throws: `FrameTooLargeError` for a body longer than `UInt32.max` bytes.
  public func encode(data: ByteBuffer, out: inout ByteBuffer) throws {
    try out.writeFrame(body: data)
  }
}

extension ByteBuffer {
  /// Writes a frame: the body's length as a 4-byte big-endian prefix, then the body.
  /// - Throws: `FrameTooLargeError` for a body longer than `UInt32.max` bytes.
  mutating func writeFrame(body: ByteBuffer) throws(FrameTooLargeError) {
    guard let length = UInt32(exactly: body.readableBytes) else {
      throw FrameTooLargeError(
        frameBytes: body.readableBytes, maximumFrameBytes: Int(UInt32.max))
    }
    reserveCapacity(minimumWritableBytes: FrameDecoder.prefixBytes + body.readableBytes)
    writeInteger(length)
    writeImmutableBuffer(body)
  }
}
