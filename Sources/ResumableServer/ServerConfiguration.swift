public import ResumableCore
public import ResumableMetrics

/// The socket the server listens on and how it treats the connections on it:
/// the transport, and nothing else.
public struct ServerConfiguration: Sendable {
  /// Where the server listens.
  public var socketPath: String
  /// Who may connect: the socket file's mode and group, the peer allow-lists.
  public var access = AccessPolicy()
  /// Connection and request limits, idle and write-stall timeouts.
  public var limits = ServerLimits()
  /// The largest frame accepted, in bytes (default 4 MiB); checked before buffering.
  public var maximumFrameBytes: Int = 4 * 1024 * 1024

  public init(socketPath: String) {
    self.socketPath = socketPath
  }
}

/// Everything `ResumableServer` runs with, but where state lives (a
/// `StateBackend`): the transport, the workflows and plugins, the engine's
/// settings, shutdown and metrics; production defaults.
public struct SidecarConfiguration: Sendable {
  /// The socket and its connections.
  public var transport: ServerConfiguration
  /// The workflows runs can be started from.
  public var workflows: [WorkflowDefinition]
  /// The plugins steps can name.
  public var plugins: PluginRegistry
  /// Expiry, leases and limits of runs.
  public var engine: EngineConfiguration = EngineConfiguration()
  /// How long a graceful shutdown lets steps in flight finish (default 30 s).
  public var shutdownGracePeriod: Duration = .seconds(30)
  /// Where to serve Prometheus metrics (nil: nowhere, the default). The
  /// process must have bootstrapped swift-metrics with `PrometheusMetrics`.
  public var metrics: MetricsEndpoint?

  public init(transport: ServerConfiguration, workflows: [WorkflowDefinition], plugins: PluginRegistry) {
    self.transport = transport
    self.workflows = workflows
    self.plugins = plugins
  }
}
