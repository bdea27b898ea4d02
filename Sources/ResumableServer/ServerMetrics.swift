import Dispatch
import Metrics
import ResumableWire

/// The server's metrics, through swift-metrics (no-ops until the process
/// bootstraps a backend, as `resumable serve --metrics-address` does):
/// - `resumable_rpc_requests_total{method,status}` and
///   `resumable_rpc_duration_seconds{method,status}` (a histogram): every answered request;
/// - `resumable_connections_open`: connections being served;
/// - `resumable_connections_refused_total{reason}`: `permission_denied`, `peer_unknown`,
///   `too_many_connections`;
/// - `resumable_connections_closed_total{reason}`: closed by the server for `idle` or
///   `write_stalled` (the peer stopped reading).
enum ServerMetrics {
  private static let connectionsOpen = Meter(label: "resumable_connections_open")

  static func connectionOpened() { connectionsOpen.increment() }
  static func connectionClosed() { connectionsOpen.decrement() }

  /// A connection refused: `permission_denied`, `peer_unknown` or `too_many_connections`.
  static func connectionRefused(reason: String) {
    Counter(label: "resumable_connections_refused_total", dimensions: [("reason", reason)]).increment()
  }

  /// A connection the server closed: `idle` or `write_stalled`.
  static func connectionClosedByServer(reason: String) {
    Counter(label: "resumable_connections_closed_total", dimensions: [("reason", reason)]).increment()
  }

  /// An answered request; an unknown method is counted as `unknown`.
  static func rpc(method: String, code: StatusCode, since started: DispatchTime) {
    let dimensions = [("method", methodLabel(method)), ("status", code.description)]
    Counter(label: "resumable_rpc_requests_total", dimensions: dimensions).increment()
    Metrics.Timer(label: "resumable_rpc_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
      .recordInterval(since: started)
  }

  /// A request refused before it was dispatched.
  static func rpcRefused(method: String, code: StatusCode) {
    rpc(method: method, code: code, since: .now())
  }

  /// Known method names only, so a client cannot grow the label set.
  private static func methodLabel(_ method: String) -> String {
    Method(rawValue: method)?.rawValue ?? "unknown"
  }
}
