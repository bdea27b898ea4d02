import ResumableCore
import ResumableWire

/// How much one server takes on before it answers `RESOURCE_EXHAUSTED`, and
/// how long it keeps connections that do nothing or stop reading.
///
/// Each limit's answer describes the limit and names its `ServerSetting`.
public struct ServerLimits: Sendable, Hashable {
  /// Open connections at once (default 512). One more gets a
  /// `RESOURCE_EXHAUSTED` frame and is closed.
  public var maximumConnections = 512
  /// Requests in flight on one connection (default 256). One more is answered
  /// `RESOURCE_EXHAUSTED` at once; the connection stays open.
  public var maximumRequestsPerConnection = 256
  /// A connection with no request in flight and no frame received for this
  /// long is closed (default 300 s; nil: never).
  public var idleTimeout: Duration? = .seconds(300)
  /// A connection whose peer accepts none of the bytes queued for it for this
  /// long is closed (default 30 s). Outbound bytes queued per connection are
  /// bounded by the socket's buffer, NIO's write watermark (64 KiB) and one
  /// response per request in flight.
  public var writeStallTimeout: Duration = .seconds(30)
  /// A frame must arrive in full within this long of its first byte, or the
  /// connection is closed (default 30 s): a partial frame is held in memory
  /// only that long.
  public var frameArrivalTimeout: Duration = .seconds(30)
  /// Bytes of requests in flight on one connection (default 64 MiB): a
  /// request whose frame would take it past this is answered
  /// `RESOURCE_EXHAUSTED` at once (the connection stays open). With the frame
  /// size limit and NIO's inbound backpressure, this bounds what one
  /// connection holds in memory.
  public var maximumRequestBytesPerConnection = 64 * 1024 * 1024

  public init() {}
}

extension RPCFailure {
  /// The answer to a connection or request beyond one of `ServerLimits`' limits
  /// (`limit` is its value): what is at the limit, what to do meanwhile, and
  /// that the limit can be raised (the setting names it).
  static func limitReached(_ setting: ServerSetting, _ limit: Int) -> RPCFailure {
    let (state, meanwhile): (String, String)
    switch setting {
    case .maximumConnections:
      state = "the server has \(limit) open connections, its limit"
      meanwhile = "close idle connections, retry later"
    case .maximumRequestBytesPerConnection:
      state = "this connection has requests of up to \(limit) bytes in flight, the per-connection limit"
      meanwhile = "wait for answers, open another connection"
    case .maximumRequestsPerConnection:
      state = "this connection has \(limit) requests in flight, the per-connection limit"
      meanwhile = "wait for answers, open another connection"
    default:
      state = "the server's \(setting) of \(limit) is reached"
      meanwhile = "retry later"
    }
    return RPCFailure(.resourceExhausted, "\(state); \(meanwhile), or raise the limit", setting: setting)
  }

  /// The answer to a frame beyond `ServerConfiguration.maximumFrameBytes`.
  static func frameTooLarge(_ error: FrameTooLargeError) -> RPCFailure {
    RPCFailure(.resourceExhausted, "\(error); closing the connection", setting: .maximumFrameBytes)
  }
}
