/// The stream ended in the middle of a frame: the peer closed its side after
/// sending part of a length prefix or part of a body.
///
/// `FrameDecoder` throws it from `decodeLast` when end of input is seen with
/// bytes left over, so a peer that dies mid-request shows up in the logs
/// instead of vanishing silently. The partial frame is never delivered.
public struct TruncatedFrameError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The body length the frame announced; `nil` when the 4-byte prefix itself was cut short.
  public var frameBytes: Int?
  /// How many bytes of the frame arrived, the prefix included.
  public var receivedBytes: Int

  /// Creates the error for a frame of which `receivedBytes` arrived.
  public init(frameBytes: Int?, receivedBytes: Int) {
    self.frameBytes = frameBytes
    self.receivedBytes = receivedBytes
  }

  /// Says how much of the frame arrived before the stream ended.
  public var description: String {
    if let frameBytes {
      return "stream ended inside a frame: received \(receivedBytes - 4) of its \(frameBytes) body "
        + "bytes"
    }
    return "stream ended inside a frame: received \(receivedBytes) of its 4 length-prefix bytes"
  }
}
