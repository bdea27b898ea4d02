public import Prometheus
import Metrics

/// Prometheus as the process's swift-metrics backend (swift-prometheus), with
/// histogram buckets fitted to what Resumable measures.
public enum PrometheusMetrics {
  /// Bootstraps swift-metrics with a new Prometheus registry and returns it,
  /// for a `MetricsEndpoint` to serve.
  ///
  /// - Important: once per process (swift-metrics allows one bootstrap); a
  ///   library never calls it, the executable does.
  public static func bootstrap() -> PrometheusCollectorRegistry {
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(factory(registry: registry))
    return registry
  }

  /// The factory `bootstrap()` installs: step durations up to 5 minutes,
  /// Redis round trips from 100 µs.
  public static func factory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
    var factory = PrometheusMetricsFactory(registry: registry)
    factory.durationHistogramBuckets["resumable_step_duration_seconds"] = [
      .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
      .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120),
      .seconds(300),
    ]
    factory.durationHistogramBuckets["resumable_redis_round_trip_seconds"] = [
      .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
      .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
      .milliseconds(250), .seconds(1),
    ]
    return factory
  }
}
