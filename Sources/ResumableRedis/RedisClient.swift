import Dispatch
public import Logging
public import NIOCore
public import NIOPosix
import Synchronization

/// An async Redis client: RESP2 over SwiftNIO, pipelined, reconnecting by itself.
///
/// Behind a Sentinel address (``RedisAddress/sentinel(_:masterName:database:)``) it asks the
/// sentinels for the master on every connect and follows a failover: a lost connection, or a
/// `READONLY` or `LOADING` reply, or a `+switch-master` from a sentinel, makes the next command ask again (commands in between fail
/// with `unavailable`, spaced by the reconnect backoff). Behind a Cluster address
/// (``RedisAddress/cluster(_:)``) each command goes to the master of its key's slot, one
/// pipelined connection per master, following `MOVED` and `ASK` (see ``clusterRedirections``).
///
/// Every concurrent caller shares the client's connection(s): requests are written as they
/// come and replies matched in order, so a caller never waits for another caller's round
/// trip. With ``Configuration/connections`` above 1, each connection is pinned to an event loop
/// of the group, in turn: a caller on one of those loops uses the connection on it (its reply
/// resumes it there); other callers spread round-robin.
///
/// Failure semantics (see ``RedisError/Code``):
/// - the connection drops while a command is in flight → `connectionLost`; the command may
///   or may not have run, only the caller knows whether retrying is safe;
/// - Redis does not answer within ``Configuration/commandTimeout`` → `timedOut`, the same
///   "may or may not have run"; the connection is dropped and the next command reconnects;
/// - Redis cannot be reached → `unavailable`, and the command was not sent. The next
///   command after a drop reconnects at once; after a failed attempt, commands fail fast
///   until the backoff delay has passed (``Configuration/Backoff``), then one reconnects.
///
/// - Important: Call ``close()`` when done. Commands are not cancelled with their task: a
///   command once written completes when Redis answers or the connection fails.
public final class RedisClient: Sendable {
  /// Connection settings.
  public struct Configuration: Sendable, Hashable {
    /// How long to wait between reconnect attempts while Redis is unreachable.
    public struct Backoff: Sendable, Hashable {
      /// The delay after the first failed attempt.
      public var initial: Duration
      /// The delay never grows past this.
      public var maximum: Duration

      /// Doubles from `initial` with each consecutive failed attempt, up to `maximum`.
      public init(initial: Duration = .milliseconds(50), maximum: Duration = .seconds(2)) {
        self.initial = initial
        self.maximum = max(initial, maximum)
      }

      /// The delay after `failures` consecutive failed attempts (`failures` ≥ 1).
      public func delay(afterFailures failures: Int) -> Duration {
        let doublings = min(max(failures - 1, 0), 30)
        return min(initial * (1 << doublings), maximum)
      }
    }

    /// Number of connections, used round-robin. One is plenty for most uses: it is
    /// pipelined. At least 1.
    public var connections: Int
    /// Limit for establishing a connection, including `AUTH` and `SELECT`.
    public var connectTimeout: Duration
    /// Spacing of reconnect attempts while Redis is down.
    public var reconnectBackoff: Backoff
    /// How long a command may wait for its reply (default 3 s); nil: forever.
    ///
    /// Past it, Redis is taken to be stuck (stopped, swapping, a dead network path): the
    /// connection is dropped, every command in flight on it fails with `timedOut`, and the
    /// next command reconnects. Use nil, or a longer timeout, for blocking commands such
    /// as `BLPOP` with a long wait.
    public var commandTimeout: Duration?

    /// Creates a configuration; the defaults suit a local Redis.
    public init(
      connections: Int = 1, connectTimeout: Duration = .seconds(5),
      reconnectBackoff: Backoff = Backoff(), commandTimeout: Duration? = .seconds(3)
    ) {
      self.connections = max(1, connections)
      self.connectTimeout = connectTimeout
      self.reconnectBackoff = reconnectBackoff
      self.commandTimeout = commandTimeout
    }
  }

  /// The server this client talks to.
  public let address: RedisAddress
  /// The settings the client was created with.
  public let configuration: Configuration
  private let connections: [RedisConnection]
  /// Finds the master when ``address`` is a Sentinel address.
  private let sentinel: SentinelResolver?
  /// Routes by hash slot when ``address`` is a Cluster address (then `connections` is empty).
  private let cluster: ClusterRouter?
  private let nextConnection = Atomic<UInt>(0)

  /// Creates a client. It connects lazily, on the first command.
  ///
  /// - Parameters:
  ///   - address: Where Redis listens; database and credentials are applied on connect.
  ///   - configuration: Connection count, timeouts and backoff.
  ///   - eventLoopGroup: The NIO event loops to run connections on.
  ///   - logger: Receives connect failures and reconnects (never passwords).
  public init(
    address: RedisAddress,
    configuration: Configuration = Configuration(),
    eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    logger: Logger = Logger(label: "resumable.redis")
  ) {
    self.address = address
    self.configuration = configuration
    var sentinel: SentinelResolver?
    if case .sentinel(let nodes, let masterName) = address.endpoint {
      sentinel = SentinelResolver(
        nodes: nodes, masterName: masterName, credentials: address, configuration: configuration,
        group: eventLoopGroup, logger: logger)
    }
    self.sentinel = sentinel
    if case .cluster(let seeds) = address.endpoint {
      self.cluster = ClusterRouter(
        address: address, seeds: seeds, configuration: configuration, group: eventLoopGroup, logger: logger)
      self.connections = []
      return
    }
    self.cluster = nil
    // More than one connection: each is pinned to an event loop of its own (in
    // turn), so that a caller on a loop can use the connection on that loop.
    let connections = (0..<configuration.connections).map { _ in
      RedisConnection(
        address: address, configuration: configuration,
        group: configuration.connections > 1 ? eventLoopGroup.next() : eventLoopGroup, logger: logger,
        sentinel: sentinel)
    }
    self.connections = connections
    // A new master announced: leave the old one now, not at the next write it refuses.
    sentinel?.onSwitch { for connection in connections { connection.reconnect() } }
  }

  deinit {
    for connection in connections { connection.shutdownNow() }
    sentinel?.shutdownNow()
    cluster?.shutdownNow()
  }

  /// Sends one command and returns its reply.
  ///
  /// An error reply from Redis is returned as `.error(message)`, not thrown.
  ///
  /// - Parameter arguments: The command name and its arguments, e.g. `["SET", key, value]`.
  /// - Throws: `RedisError` when there is no reply (see the type's failure semantics).
  public func send(_ arguments: [RedisArgument]) async throws(RedisError) -> RESPValue {
    try await pipeline([arguments])[0]
  }

  /// Sends several commands in one write and returns their replies in the same order.
  ///
  /// The commands are not a transaction: other clients' commands may run between them
  /// (use `MULTI`/`EXEC` or a script for atomicity). Error replies are returned as values.
  public func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [RESPValue] {
    guard !commands.isEmpty else { return [] }
    if commands.contains(where: \.isEmpty) {
      throw RedisError(code: .invalidCommand, message: "a command needs at least its name")
    }
    let started = DispatchTime.now()
    do {
      let replies: [RESPValue]
      if let cluster {
        replies = try await cluster.send(commands)
      } else {
        replies = try await connection().send(commands)
      }
      RedisMetrics.roundTrip.recordInterval(since: started)
      RedisMetrics.errorReplies(replies.count { $0.errorMessage.map { !$0.hasPrefix("NOSCRIPT") } ?? false })
      return replies
    } catch {
      RedisMetrics.failed(error)
      throw error
    }
  }

  /// The connection on the caller's event loop, if one is (its reply then
  /// resumes the caller there, with no hop between threads); else the next in turn.
  private func connection() -> RedisConnection {
    if connections.count == 1 { return connections[0] }
    if let current = MultiThreadedEventLoopGroup.currentEventLoop,
      let local = connections.first(where: { $0.eventLoop === current })
    {
      return local
    }
    let index = nextConnection.wrappingAdd(1, ordering: .relaxed).oldValue % UInt(connections.count)
    return connections[Int(index)]
  }

  /// How many connections the client has established so far: the first ones, then one
  /// more with every reconnect. A change means the Redis behind the address may have
  /// restarted or failed over, so settings read from it before may be stale.
  public var establishedConnections: Int {
    connections.reduce(0) { $0 + $1.establishedCount } + (cluster?.establishedCount ?? 0)
  }

  /// Behind a Cluster address, how many `MOVED` and `ASK` redirections the client has
  /// followed (zero for other addresses): a slot map out of date, a slot being migrated.
  public var clusterRedirections: (moved: Int, ask: Int) {
    cluster?.redirections ?? (0, 0)
  }

  /// Closes the connections. Commands in flight fail with `connectionLost`; later ones
  /// with `clientClosed`.
  public func close() async {
    for connection in connections { await connection.shutdown() }
    await sentinel?.shutdown()
    await cluster?.shutdown()
  }
}
