public import ResumableCore
public import ResumableRedis
public import ResumableMetrics

/// Everything `ResumableServer` needs to run, with production defaults.
public struct ServerConfiguration: Sendable {
  /// Where the server listens.
  public var socketPath: String
  /// Who may connect: the socket file's mode and group, the peer allow-lists.
  public var access = AccessPolicy()
  /// Connection and request limits, idle and write-stall timeouts.
  public var limits = ServerLimits()
  /// Where to serve Prometheus metrics (nil: nowhere, the default). The
  /// process must have bootstrapped swift-metrics with `PrometheusMetrics`.
  public var metrics: MetricsEndpoint?
  /// The largest frame accepted, in bytes (default 4 MiB); checked before buffering.
  public var maximumFrameBytes: Int = 4 * 1024 * 1024
  /// Where state lives.
  public var redis: RedisBackend
  /// How long a Redis command may wait for its reply (default 3 s). Past it the
  /// connection is dropped and reconnected, and the call is answered `UNAVAILABLE`;
  /// `Health` answers `NOT_SERVING` within it. nil: no deadline (a stuck Redis then
  /// stalls every call on it).
  public var redisCommandTimeout: Duration? = .seconds(3)
  /// The first part of every Redis key (default `resumable`).
  public var keyPrefix: String = "resumable"
  /// The workflows runs can be started from.
  public var workflows: [WorkflowDefinition]
  /// The plugins steps can name.
  public var plugins: PluginRegistry
  /// Expiry, leases and limits of runs.
  public var engine: EngineConfiguration = EngineConfiguration()
  /// How long a graceful shutdown lets steps in flight finish (default 30 s).
  public var shutdownGracePeriod: Duration = .seconds(30)
  /// The embedded Redis' `appendfsync` policy (default `always`: Redis
  /// writes and fsyncs the append-only file before it acknowledges a write,
  /// so no acknowledged commit is lost to a `kill -9` of Redis or a power
  /// loss). `everysec` is faster and survives a `kill -9` of Redis alone,
  /// except for up to about 2 s of writes while a slow fsync holds Redis'
  /// writes back; a power loss can take about the last second or two.
  public var embeddedRedisFsync: RedisServerProcess.Configuration.AppendFsync = .always

  public init(socketPath: String, redis: RedisBackend, workflows: [WorkflowDefinition], plugins: PluginRegistry) {
    self.socketPath = socketPath
    self.redis = redis
    self.workflows = workflows
    self.plugins = plugins
  }
}

/// Which Redis the server uses.
public enum RedisBackend: Sendable {
  /// An existing Redis server.
  case external(RedisAddress)
  /// A private `redis-server` the server starts (Unix socket only, the
  /// append-only file on) with its data in `dataDirectory`, and stops on shutdown.
  case embedded(dataDirectory: String)
}
