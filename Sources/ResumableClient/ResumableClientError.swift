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
  /// The underlying error, if there was one (a socket error, a decoding error);
  /// `message` says it already.
  public var cause: (any Error)?
  /// The setting that would let the call through, when one would: the
  /// server's, or this client's.
  public var setting: Setting?

  /// A setting, by a stable name, that a program or a command line can change.
  public struct Setting: Hashable, Sendable {
    /// The name: one of the server's (`Envelope.status_setting`: `max_runs`,
    /// `max_connections`, `allow_peer`, …), or this client's: `socket` (where
    /// the server is) or `trusted_server_uid`.
    public var name: String
    /// The value it would need, when the client knows it (the server's uid,
    /// for `trusted_server_uid`).
    public var value: String?

    public init(_ name: String, value: String? = nil) {
      self.name = name
      self.value = value
    }
  }

  /// Creates an error.
  /// - Parameters:
  ///   - code: The gRPC status code of the failure.
  ///   - message: A message a person can act on; it says the cause, if any.
  ///   - cause: The underlying error, if any.
  ///   - setting: The setting that would let the call through, if one would.
  public init(code: StatusCode, message: String, cause: (any Error)? = nil, setting: Setting? = nil) {
    self.code = code
    self.message = message
    self.cause = cause
    self.setting = setting
  }

  /// The server's answer in `envelope` (a status other than OK) as an error;
  /// `otherwise` is the message when the server sent none.
  init(answer envelope: Envelope, otherwise: @autoclosure () -> String) {
    self.init(
      code: envelope.statusCode, message: envelope.statusMessage.isEmpty ? otherwise() : envelope.statusMessage,
      setting: envelope.statusSetting.isEmpty ? nil : Setting(envelope.statusSetting))
  }

  /// `CODE: message`, e.g. `NOT_FOUND: no run with id "r1"`.
  public var description: String { "\(code): \(message)" }
}
