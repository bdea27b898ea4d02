import Metrics

/// The client's metrics, through swift-metrics (no-ops until the process
/// bootstraps a backend):
/// - `resumable_redis_round_trip_seconds`: time from sending a pipeline of
///   commands to its last reply (a histogram);
/// - `resumable_redis_errors_total{kind}`: commands without a reply
///   (`kind` is the `RedisError.Code`: `unavailable`, `connectionLost`, `timedOut` …) and
///   error replies (`kind="reply"`; `NOSCRIPT`, answered by loading the script, is not one);
/// - `resumable_redis_cluster_redirections_total{kind}`: `MOVED` and `ASK` replies a
///   Cluster client followed (`kind="moved"`, `kind="ask"`): slots that moved, or are moving.
enum RedisMetrics {
  static let roundTrip = Metrics.Timer(label: "resumable_redis_round_trip_seconds", preferredDisplayUnit: .seconds)

  static func failed(_ error: RedisError) {
    Counter(label: "resumable_redis_errors_total", dimensions: [("kind", error.code.description)]).increment()
  }

  static func errorReplies(_ count: Int) {
    guard count > 0 else { return }
    Counter(label: "resumable_redis_errors_total", dimensions: [("kind", "reply")]).increment(by: count)
  }

  static func redirected(_ kind: String) {
    Counter(label: "resumable_redis_cluster_redirections_total", dimensions: [("kind", kind)]).increment()
  }
}
