/// A frame whose length prefix announces more bytes than the limit allows.
///
/// `FrameDecoder` throws it as soon as the 4-byte prefix arrives, before any
/// of the body is buffered; `FrameEncoder` throws it for a body that a 4-byte
/// prefix cannot announce. Either way the connection cannot go on: the
/// stream is no longer at a frame boundary.
public struct FrameTooLargeError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The body length, in bytes, that the frame announced (or would have needed).
  public var frameBytes: Int
  /// The largest body length, in bytes, that was allowed.
  public var maximumFrameBytes: Int

  /// Creates the error for a frame of `frameBytes` against a limit of `maximumFrameBytes`.
  public init(frameBytes: Int, maximumFrameBytes: Int) {
    self.frameBytes = frameBytes
    self.maximumFrameBytes = maximumFrameBytes
  }

  /// Says what happened; the layer that knows the setting adds how to raise it.
  public var description: String {
    "frame of \(frameBytes) bytes exceeds the limit of \(maximumFrameBytes) bytes"
  }
}
