/// Why a private `redis-server` could not be started (a process-level error, like a bind
/// failure, as opposed to a per-command ``RedisError``).
public struct RedisServerError: Error, Sendable, CustomStringConvertible {
  /// The kind of failure. New codes may be added; switch with a `default`.
  public typealias Code = ErrorCode<RedisServerError>

  /// The kind of failure.
  public var code: Code
  /// What happened and what to do; includes the tail of Redis' log when there is one.
  public var message: String

  /// Creates an error.
  public init(code: Code, message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { "redis-server \(code): \(message)" }
}

extension ErrorCode where Domain == RedisServerError {
  /// No `redis-server` executable was found.
  public static let notInstalled = Self("notInstalled")
  /// The configuration cannot work (e.g. the socket path is too long).
  public static let invalidConfiguration = Self("invalidConfiguration")
  /// The process could not be created.
  public static let spawnFailed = Self("spawnFailed")
  /// The process started but exited or did not answer `PING` in time.
  public static let notReady = Self("notReady")
  /// `start()` was called while the process is running.
  public static let alreadyRunning = Self("alreadyRunning")
  /// Another process holds the data directory's lock (its message names the pid), or a
  /// process this one cannot identify listens on the Redis socket in it.
  public static let dataDirectoryInUse = Self("dataDirectoryInUse")
}
