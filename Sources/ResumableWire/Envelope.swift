/// One frame's content, in both directions (`resumable.v1.Envelope`).
public struct Envelope: Hashable, Sendable {
  /// Chosen by the client, echoed on every response frame; 0 is reserved for
  /// connection-level errors sent by the server.
  public var requestID: UInt64
  /// The method name, e.g. `StartWorkflow`.
  public var method: String
  /// The method's request or response message, protobuf-encoded.
  public var payload: [UInt8]
  /// Responses only: the outcome of the call.
  public var statusCode: StatusCode
  /// Responses only: a message a person can act on when the call failed.
  public var statusMessage: String
  /// Requests only: the call's deadline in milliseconds from receipt; 0 is none.
  public var timeoutMilliseconds: UInt64
  /// Responses only: true on the last frame of a call.
  public var endOfStream: Bool

  /// Creates an envelope; every field defaults to its protobuf default.
  public init(
    requestID: UInt64 = 0,
    method: String = "",
    payload: [UInt8] = [],
    statusCode: StatusCode = .ok,
    statusMessage: String = "",
    timeoutMilliseconds: UInt64 = 0,
    endOfStream: Bool = false
  ) {
    self.requestID = requestID
    self.method = method
    self.payload = payload
    self.statusCode = statusCode
    self.statusMessage = statusMessage
    self.timeoutMilliseconds = timeoutMilliseconds
    self.endOfStream = endOfStream
  }
}
