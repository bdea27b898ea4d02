public import ResumableWire

/// The error of a call made with ``ResumableClient``, in the shape of grpc-swift's `RPCError`.
///
/// For a call the server answered with a non-OK status, ``code`` and ``message`` are the server's.
/// Failures on the client side use the gRPC code that fits:
/// - `.unavailable`: the server could not be reached, or the connection closed before the answer;
/// - `.deadlineExceeded`: the call's timeout passed before the answer arrived;
/// - `.cancelled`: the calling task was cancelled;
/// - `.internal`: the server's answer could not be decoded.
public struct ResumableClientError: Error, Sendable, CustomStringConvertible {
  /// The gRPC status code of the failure.
  public var code: StatusCode
  /// A message a person can act on.
  public var message: String
  /// The underlying error, if there was one (a socket error, a decoding error).
  public var cause: (any Error)?

  /// Creates an error.
  /// - Parameters:
  ///   - code: The gRPC status code of the failure.
  ///   - message: A message a person can act on.
  ///   - cause: The underlying error, if any.
  public init(code: StatusCode, message: String, cause: (any Error)? = nil) {
    self.code = code
    self.message = message
    self.cause = cause
  }

  /// `CODE: message`, e.g. `NOT_FOUND: no run with id "r1"`.
  public var description: String {
    if let cause {
      return "\(code): \(message) (cause: \(cause))"
    }
    return "\(code): \(message)"
  }
}
