/// A message that travels as protobuf bytes: the envelope, or a method's
/// request or response inside `Envelope.payload`.
public protocol WireMessage: Sendable {
  /// Decodes the message from protobuf bytes.
  /// - Throws: `WireError` when the bytes are not a valid encoding of this message.
  init(protobufBytes bytes: [UInt8]) throws(WireError)
  /// Encodes the message as protobuf bytes.
  func protobufBytes() -> [UInt8]
}

/// Bytes that could not be decoded as the expected message.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
  /// What was expected, e.g. `resumable.v1.Envelope`.
  public var message: String
  /// Creates the error with a message that names what was expected.
  public init(_ message: String) { self.message = message }
  /// The message.
  public var description: String { message }
}
