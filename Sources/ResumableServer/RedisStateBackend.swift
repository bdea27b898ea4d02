public import Logging
import NIOPosix
public import ResumableRedis
import ResumableStore
import ResumableCore

/// State in Redis: an existing server, or a private `redis-server` started
/// for this server and stopped after it.
public struct RedisStateBackend: StateBackend {
  /// Which Redis.
  public var location: RedisBackend
  /// How long a Redis command may wait for its reply (default 3 s). Past it the
  /// connection is dropped and reconnected, and the call is answered `UNAVAILABLE`;
  /// `Health` answers `NOT_SERVING` within it. nil: no deadline (a stuck Redis then
  /// stalls every call on it).
  public var commandTimeout: Duration? = .seconds(3)
  /// The first part of every Redis key (default `resumable`).
  public var keyPrefix: String = "resumable"
  /// How many replicas must have each write of a run before it counts as done
  /// (`WAIT`; default 0). See `RedisStateStore.init(client:keyPrefix:waitReplicas:replicaTimeout:)`.
  public var waitReplicas = 0
  /// The embedded Redis' `appendfsync` policy (default `always`: Redis
  /// writes and fsyncs the append-only file before it acknowledges a write,
  /// so no acknowledged commit is lost to a `kill -9` of Redis or a power
  /// loss). `everysec` is faster and survives a `kill -9` of Redis alone,
  /// except for up to about 2 s of writes while a slow fsync holds Redis'
  /// writes back; a power loss can take about the last second or two.
  public var embeddedFsync: RedisServerProcess.Configuration.AppendFsync = .always

  public init(_ location: RedisBackend) {
    self.location = location
  }

  /// Starts the embedded Redis (when there is one) and connects.
  ///
  /// A Redis that refuses us (a wrong password, say) is a configuration error;
  /// one that is down is a fault to ride out: the server serves anyway (calls
  /// get `UNAVAILABLE` meanwhile) and the client reconnects with backoff.
  public func open(logger: Logger) async throws -> OpenedState {
    var closers: [@Sendable () async -> Void] = []
    let address: RedisAddress
    switch location {
    case .external(let external):
      address = external
    case .embedded(let dataDirectory):
      let process = try await RedisServerProcess.start(
        configuration: RedisServerProcess.Configuration(dataDirectory: dataDirectory, appendFsync: embeddedFsync))
      address = process.address
      for orphan in process.stoppedOrphans {
        logger.warning(
          "stopped a redis-server (pid \(orphan)) an earlier server left running on the data directory",
          metadata: ["data_dir": "\(dataDirectory)"])
      }
      logger.info(
        "embedded redis-server started",
        metadata: ["data_dir": "\(dataDirectory)", "pid": "\(process.pid.map(String.init) ?? "?")"])
      closers.append {
        await process.stop()
        logger.info("embedded redis-server stopped")
      }
    }
    // A connection per event loop: a runner's round trips stay on its loop (the
    // lanes of a map step are spread over the loops).
    let group = MultiThreadedEventLoopGroup.singleton
    let client = RedisClient(
      address: address,
      configuration: RedisClient.Configuration(
        connections: max(1, Array(group.makeIterator()).count), commandTimeout: commandTimeout),
      eventLoopGroup: group, logger: logger)
    closers.append { await client.close() }
    let evictionPolicy = EvictionPolicyCheck(client: client, logger: logger)
    let store = RedisStateStore(
      client: client, keyPrefix: keyPrefix, waitReplicas: waitReplicas,
      replicaTimeout: min(.seconds(1), (commandTimeout ?? .seconds(2)) / 2))
    do {
      let ping = try await client.send(["PING"])
      if let message = ping.errorMessage { throw ServerError("Redis refused PING: \(message)") }
      if address.topology != .cluster {
        let info = try await client.send(["INFO", "cluster"])
        if info.string?.contains("cluster_enabled:1") == true {
          throw ServerError(
            "Redis at \(address) is a node of a Redis Cluster, which a \(address.topology == .sentinel ? "redis+sentinel" : "redis")"
              + ":// URL does not route by slot: use --redis redis+cluster://host:port[,host:port…]")
        }
      }
      _ = await evictionPolicy.warning()  // Logged when the policy may break runs.
      let moved = try await store.moveUnbucketedIndexes()
      if moved > 0 {
        logger.notice("moved \(moved) entries of the indexes an older server wrote into their buckets")
      }
    } catch let error as RedisError {
      logger.warning("Redis is unreachable; serving anyway, calls get UNAVAILABLE until it is back: \(error)")
    } catch let error as StoreError where error.kind == .unavailable {
      logger.warning("Redis is unreachable; serving anyway, calls get UNAVAILABLE until it is back: \(error)")
    } catch {
      for close in closers.reversed() { await close() }
      throw error
    }
    return OpenedState(
      store: store,
      healthNote: { await evictionPolicy.warning() }, closers: closers)
  }
}

/// Which Redis a `RedisStateBackend` uses.
public enum RedisBackend: Sendable {
  /// An existing Redis server.
  case external(RedisAddress)
  /// A private `redis-server` the server starts (Unix socket only, the
  /// append-only file on) with its data in `dataDirectory`, and stops on shutdown.
  case embedded(dataDirectory: String)
}
