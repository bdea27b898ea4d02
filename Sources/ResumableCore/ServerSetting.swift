/// A setting of the server that refused a request (a limit, an access rule),
/// by a stable name.
///
/// Errors name the setting; their messages describe the limit in words and
/// never a command-line flag. The wire carries the name
/// (`Envelope.status_setting`), and a command line turns it into how its user
/// changes the setting (`resumable serve --max-runs`).
public struct ServerSetting: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
  public var rawValue: String

  public init(rawValue: String) {
    self.rawValue = rawValue
  }

  /// Runs one server executes at once (`EngineConfiguration.maximumActiveRuns`).
  public static let maximumRuns = ServerSetting(rawValue: "max_runs")
  /// Open connections at once.
  public static let maximumConnections = ServerSetting(rawValue: "max_connections")
  /// Requests in flight on one connection.
  public static let maximumRequestsPerConnection = ServerSetting(rawValue: "max_requests_per_connection")
  /// Bytes of requests in flight on one connection.
  public static let maximumRequestBytesPerConnection = ServerSetting(rawValue: "max_request_bytes_per_connection")
  /// The largest frame accepted.
  public static let maximumFrameBytes = ServerSetting(rawValue: "max_frame_bytes")
  /// The peers (user and group ids) allowed to connect.
  public static let allowedPeers = ServerSetting(rawValue: "allow_peer")
  /// Where the server listens.
  public static let socketPath = ServerSetting(rawValue: "socket")
  /// The socket file's group.
  public static let socketGroup = ServerSetting(rawValue: "socket_group")

  public var description: String { rawValue }
}
