public import NIOCore

extension Envelope {
  /// Decodes an envelope from a frame body, as `FrameDecoder` emits it.
  ///
  /// An empty body is a valid envelope with every field at its default.
  /// - Parameter frameBody: the body's readable bytes; the buffer is not consumed.
  /// - Throws: `WireError` when the bytes are not a valid `resumable.v1.Envelope`.
  public init(frameBody: ByteBuffer) throws(WireError) {
    let result = frameBody.withUnsafeReadableBytes { bytes in
      Result { () throws(WireError) in try Envelope(unpacking: bytes) }
    }
    self = try result.get()
  }

  /// Encodes the envelope as a frame body, for `FrameEncoder` to prefix.
  /// - Parameter allocator: allocates the returned buffer (usually the channel's).
  public func frameBody(allocator: ByteBufferAllocator) -> ByteBuffer {
    allocator.buffer(bytes: protobufBytes())
  }
}
