import Foundation
public import Logging
import NIOCore
import NIOPosix
import ResumableCore
import ResumableMetrics
import ResumableRedis
import ResumableSocket
import ResumableStore
import ResumableWire
public import ServiceLifecycle
import Synchronization

/// The sidecar: serves the RPC protocol on a Unix socket and drives runs,
/// with state in Redis (an existing one, or a private `redis-server` it
/// starts and stops).
///
/// A `Service`: run it in a `ServiceGroup`. On graceful shutdown (SIGTERM,
/// SIGINT) it stops accepting connections, lets steps in flight finish and
/// commit within the grace period, answers the calls waiting on them, then
/// closes connections and Redis. Steps still running after the grace period
/// are cancelled, not committed, and left for a resume.
public final class ResumableServer: Service, Sendable {
  private let configuration: ServerConfiguration
  private let logger: Logger
  private let readiness = Mutex(Readiness.starting(waiters: []))

  /// Whether the server accepts connections yet: one state, so a caller
  /// arriving after start-up failed learns of the failure, not of readiness.
  private enum Readiness {
    case starting(waiters: [CheckedContinuation<Void, any Error>])
    case settled(Result<Void, any Error>)
  }

  public init(configuration: ServerConfiguration, logger: Logger) {
    self.configuration = configuration
    self.logger = logger
  }

  /// Returns once the server accepts connections.
  /// - Throws: the error that stopped the server from starting.
  public func waitUntilReady() async throws {
    try await withCheckedThrowingContinuation { continuation in
      let settled: Result<Void, any Error>? = readiness.withLock { state in
        switch state {
        case .starting(var waiters):
          waiters.append(continuation)
          state = .starting(waiters: waiters)
          return nil
        case .settled(let result):
          return result
        }
      }
      if let settled { continuation.resume(with: settled) }
    }
  }

  /// Settles readiness once; later calls change nothing.
  private func settleReadiness(_ result: Result<Void, any Error>) {
    let waiters = readiness.withLock { state -> [CheckedContinuation<Void, any Error>] in
      guard case .starting(let waiters) = state else { return [] }
      state = .settled(result)
      return waiters
    }
    for waiter in waiters { waiter.resume(with: result) }
  }

  public func run() async throws {
    do {
      try await serve()
    } catch {
      settleReadiness(.failure(error))
      throw error
    }
  }

  private func serve() async throws {
    // Definitions built in Swift meet the rules a definitions file's do.
    do {
      try configuration.workflows.validate(registry: configuration.plugins, file: "the server's configuration")
    } catch {
      throw ServerError("invalid workflow definition: \(error)")
    }
    let group = MultiThreadedEventLoopGroup.singleton
    // Before anything starts: a socket directory that is not ours is a refusal at once.
    do {
      try SocketDirectory.secure(forSocket: configuration.socketPath, create: true)
    } catch {
      throw ServerError(error.description)
    }
    var embedded: RedisServerProcess?
    let address: RedisAddress
    switch configuration.redis {
    case .external(let external):
      address = external
    case .embedded(let dataDirectory):
      let process = try await RedisServerProcess.start(
        configuration: RedisServerProcess.Configuration(
          dataDirectory: dataDirectory, appendFsync: configuration.embeddedRedisFsync))
      embedded = process
      address = process.address
      for orphan in process.stoppedOrphans {
        logger.warning("stopped a redis-server (pid \(orphan)) an earlier server left running on the data directory", metadata: ["data_dir": "\(dataDirectory)"])
      }
      logger.info("embedded redis-server started", metadata: ["data_dir": "\(dataDirectory)", "pid": "\(process.pid.map(String.init) ?? "?")"])
    }
    let client = RedisClient(
      address: address, configuration: RedisClient.Configuration(commandTimeout: configuration.redisCommandTimeout),
      eventLoopGroup: group, logger: logger)
    do {
      try await serve(client: client, group: group)
    } catch {
      await client.close()
      await embedded?.stop()
      throw error
    }
    await client.close()
    if let embedded {
      await embedded.stop()
      logger.info("embedded redis-server stopped")
    }
  }

  private func serve(client: RedisClient, group: MultiThreadedEventLoopGroup) async throws {
    // A Redis that refuses us (wrong password, say) is a configuration error;
    // one that is down is a fault to ride out: serve anyway (calls get
    // UNAVAILABLE meanwhile) and let the client reconnect with backoff.
    let evictionPolicy = EvictionPolicyCheck(client: client, logger: logger)
    do {
      let ping = try await client.send(["PING"])
      if let message = ping.errorMessage { throw ServerError("Redis refused PING: \(message)") }
      _ = await evictionPolicy.warning()  // Logged when the policy may break runs.
    } catch let error as RedisError {
      logger.warning("Redis is unreachable; serving anyway, calls get UNAVAILABLE until it is back: \(error)")
    }
    let store = RedisStateStore(client: client, keyPrefix: configuration.keyPrefix)
    let engine = WorkflowEngine(
      store: store, registry: configuration.plugins, workflows: configuration.workflows,
      configuration: configuration.engine, logger: logger)
    let dispatcher = Dispatcher(engine: engine, logger: logger, evictionPolicy: evictionPolicy)
    let connections = ConnectionRegistry()

    try await SocketFile.prepare(path: configuration.socketPath, group: group)
    let maximumFrameBytes = configuration.maximumFrameBytes
    let writeStallTimeout = configuration.limits.writeStallTimeout
    let frameArrivalTimeout = configuration.limits.frameArrivalTimeout
    let logger = self.logger
    // The socket file is created by bind(): a restrictive umask makes it 0600
    // from its first instant; chmod then applies the configured mode.
    let previousMask = umask(0o177)
    let accepted = AcceptedConnections<ByteBuffer, ByteBuffer>()
    let server: any Channel
    do {
      server = try await ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 256)
        .childChannelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(FlushCoalescer())
            try channel.pipeline.syncOperations.addHandler(WriteStallHandler(timeout: writeStallTimeout, logger: logger))
            try channel.pipeline.syncOperations.addHandler(FrameArrivalHandler(timeout: frameArrivalTimeout, logger: logger))
            try channel.pipeline.syncOperations.addHandler(
              ByteToMessageHandler(FrameDecoder(maximumFrameBytes: maximumFrameBytes)))
            try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
            let connection = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            // Refused once shutting down: failing here closes the connection
            // before it is active, which NIO cleans up safely.
            guard accepted.offer(connection) else { throw ChannelError.ioOnClosedChannel }
          }
        }
        .bind(unixDomainSocketPath: configuration.socketPath, cleanupExistingSocketFile: false).get()
      umask(previousMask)
    } catch {
      umask(previousMask)
      throw ServerError("cannot listen on '\(configuration.socketPath)': \(error)")
    }
    do {
      try configuration.access.apply(toSocketAt: configuration.socketPath)
    } catch {
      try? await server.close()
      throw error
    }
    var metricsServer: MetricsServer?
    do {
      if let endpoint = configuration.metrics {
        metricsServer = try await MetricsServer.start(endpoint: endpoint, group: group)
      }
    } catch {
      try? await server.close()
      throw ServerError("cannot serve metrics: \(error)")
    }
    logger.info(
      "listening",
      metadata: [
        "socket": "\(configuration.socketPath)", "workflows": "\(engine.workflowNames.joined(separator: ","))",
        "socket_mode": "\(String(configuration.access.socketMode, radix: 8))",
        "metrics": "\(metricsServer.map { "http://\($0.boundAddress)/metrics" } ?? "off")",
      ])
    settleReadiness(.success(()))

    let grace = configuration.shutdownGracePeriod
    let access = configuration.access
    let limits = configuration.limits
    do {
      try await withThrowingDiscardingTaskGroup { tasks in
        tasks.addTask {
          await withDiscardingTaskGroup { connectionTasks in
            while let connection = await accepted.next() {
              connectionTasks.addTask {
                await Connection(
                  channel: connection, dispatcher: dispatcher, registry: connections, access: access, limits: limits,
                  logger: logger
                ).serve()
              }
            }
          }
          // The loop ended (shutdown, or cancellation): close what it did not take.
          await accepted.closeRemaining()
        }
        tasks.addTask {
          await withTaskGroup(of: Void.self) { engineTasks in
            engineTasks.addTask { await engine.run() }
            engineTasks.addTask {
              // Returns when graceful shutdown begins (or at once on cancellation).
              try? await gracefulShutdown()
              logger.info("shutting down: no new connections; steps in flight may finish within \(grace)")
              try? await server.close()
              await accepted.closeRemaining()
              engine.beginShutdown()
              try? await Task.sleep(for: grace)
            }
            await engineTasks.next()
            engineTasks.cancelAll()
          }
          // Every runner has stopped, so every waiting call has its answer;
          // watches end now (their runs go on elsewhere).
          dispatcher.watches.shutDown()
          await connections.closeAll()
        }
      }
    } catch {
      try? await server.close()
      await accepted.closeRemaining()
      await metricsServer?.close()
      throw error
    }
    try? await server.close()
    await metricsServer?.close()
    try? FileManager.default.removeItem(atPath: configuration.socketPath)
    logger.info("server stopped")
  }
}
