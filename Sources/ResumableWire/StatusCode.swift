/// A gRPC status code, with gRPC's numbers, as carried in `Envelope.statusCode`.
///
/// A struct wrapping the number rather than an enum, so codes a newer peer
/// sends survive a round trip and new ones can be added without breaking users.
public struct StatusCode: Hashable, Sendable, CustomStringConvertible {
  /// The gRPC number of the code.
  public var rawValue: Int

  /// Wraps a gRPC code number (unknown numbers are kept as they are).
  public init(rawValue: Int) { self.rawValue = rawValue }

  /// Not an error.
  public static let ok = StatusCode(rawValue: 0)
  /// The call was cancelled, typically by the caller.
  public static let cancelled = StatusCode(rawValue: 1)
  /// An error with no better code.
  public static let unknown = StatusCode(rawValue: 2)
  /// The request is invalid whatever the server's state.
  public static let invalidArgument = StatusCode(rawValue: 3)
  /// The deadline passed before the call finished.
  public static let deadlineExceeded = StatusCode(rawValue: 4)
  /// Something the request names was not found.
  public static let notFound = StatusCode(rawValue: 5)
  /// Something the request would create exists already.
  public static let alreadyExists = StatusCode(rawValue: 6)
  /// The caller may not do this.
  public static let permissionDenied = StatusCode(rawValue: 7)
  /// A resource or a limit was exhausted.
  public static let resourceExhausted = StatusCode(rawValue: 8)
  /// The current state does not allow the call.
  public static let failedPrecondition = StatusCode(rawValue: 9)
  /// The call was aborted, typically by a concurrent change.
  public static let aborted = StatusCode(rawValue: 10)
  /// A value is past its valid range.
  public static let outOfRange = StatusCode(rawValue: 11)
  /// The method is not implemented.
  public static let unimplemented = StatusCode(rawValue: 12)
  /// A broken invariant on the server.
  public static let `internal` = StatusCode(rawValue: 13)
  /// The service cannot be reached for now; retrying can help.
  public static let unavailable = StatusCode(rawValue: 14)
  /// Data was lost or corrupted beyond recovery.
  public static let dataLoss = StatusCode(rawValue: 15)
  /// The caller has no valid credentials.
  public static let unauthenticated = StatusCode(rawValue: 16)

  private static let names = [
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED",
  ]

  /// The gRPC name, e.g. `NOT_FOUND`; `CODE_<n>` for a number gRPC does not define.
  public var description: String {
    Self.names.indices.contains(rawValue) ? Self.names[rawValue] : "CODE_\(rawValue)"
  }
}
