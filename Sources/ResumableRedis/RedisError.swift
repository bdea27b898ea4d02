import NIOCore
#if canImport(Glibc)
  import Glibc
#endif

/// Why a Redis command did not produce a reply.
///
/// Follows the house error shape: a `code` to switch on, a `message` a person can act on,
/// and the underlying `cause` when there is one.
public struct RedisError: Error, Sendable, CustomStringConvertible {
  /// The kind of failure. New codes may be added; switch with a `default`.
  public typealias Code = ErrorCode<RedisError>

  /// The kind of failure.
  public var code: Code
  /// What happened, for a person.
  public var message: String
  /// The lower-level error, if any (an `IOError` from the socket, for instance).
  public var cause: (any Error)?

  /// Set when the request provably never reached the socket (the connection was already
  /// closed when it arrived in the pipeline), so the client may send it again safely.
  internal var wasNotSent = false

  /// Creates an error.
  public init(code: Code, message: String, cause: (any Error)? = nil) {
    self.code = code
    self.message = message
    self.cause = cause
  }

  /// The message: it says the cause once (`cause` keeps the error itself, for programs).
  public var description: String { message }

  /// A short account of `error` for a message: a socket error as its system
  /// text ("No such file or directory"), a Redis error as its message.
  static func reason(_ error: any Error) -> String {
    switch error {
    case let error as RedisError: return error.message
    case let error as IOError: return String(cString: strerror(error.errnoCode))
    default: return "\(error)"
    }
  }

  /// See ``Code/connectionLost``.
  public static func connectionLost(_ message: String, cause: (any Error)? = nil) -> RedisError {
    RedisError(code: .connectionLost, message: message, cause: cause)
  }

  /// See ``Code/timedOut``.
  public static func timedOut(_ message: String) -> RedisError {
    RedisError(code: .timedOut, message: message)
  }

  /// Whether the command may have run on the server although no reply came: the
  /// connection dropped, or Redis did not answer in time, while it was in flight.
  public var mayHaveRun: Bool { code == .connectionLost || code == .timedOut }

  /// See ``Code/unavailable``.
  public static func unavailable(_ message: String, cause: (any Error)? = nil) -> RedisError {
    RedisError(code: .unavailable, message: message, cause: cause)
  }

  /// See ``Code/protocolError``.
  public static func protocolError(_ message: String) -> RedisError {
    RedisError(code: .protocolError, message: message)
  }

  /// See ``Code/server``; `message` is the error reply as Redis sent it.
  public static func server(_ message: String) -> RedisError {
    RedisError(code: .server, message: message)
  }
}

/// A Redis address or server configuration that cannot be used, e.g. a malformed URL.
public struct RedisConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
  /// What is wrong and what a valid value looks like. Never contains a password.
  public var message: String

  /// Creates an error with `message`.
  public init(_ message: String) { self.message = message }

  public var description: String { message }
}

extension ErrorCode where Domain == RedisError {
  /// The connection dropped while the command was in flight. The command may or may not
  /// have run on the server: retry only if it is idempotent.
  public static let connectionLost = Self("connectionLost")
  /// Redis did not answer within ``RedisClient/Configuration/commandTimeout``: the client
  /// dropped the connection (the next command reconnects). As with `connectionLost`, the
  /// command may or may not have run on the server: retry only if it is idempotent.
  public static let timedOut = Self("timedOut")
  /// Redis could not be reached (connect failed, or a reconnect is backing off). The
  /// command was not sent.
  public static let unavailable = Self("unavailable")
  /// Redis sent bytes that are not valid RESP; the connection was closed.
  public static let protocolError = Self("protocolError")
  /// Redis answered with an error reply (only thrown where documented, e.g. `evalScript`).
  public static let server = Self("server")
  /// The client was closed with `RedisClient.close()`.
  public static let clientClosed = Self("clientClosed")
  /// The command could not be encoded (e.g. it has no arguments).
  public static let invalidCommand = Self("invalidCommand")
}
