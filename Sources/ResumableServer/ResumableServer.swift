import Foundation
public import Logging
public import ResumableCore
import NIOCore
import NIOPosix
import ResumableMetrics
import ResumableSocket
public import ServiceLifecycle
import Synchronization

/// The sidecar: serves the RPC protocol on a Unix socket and drives runs,
/// with state in a `StateBackend` (Redis: an existing one, or a private
/// `redis-server` it starts and stops).
///
/// The composition root, in hummingbird's `Application` shape: `serve` opens
/// the backend, builds the engine and binds the socket, then runs them as
/// services of one `ServiceGroup` (ServerServices.swift), which orders their
/// shutdown. A `Service` itself: run it in a `ServiceGroup`. On graceful shutdown (SIGTERM,
/// SIGINT) it stops accepting connections, lets steps in flight finish and
/// commit within the grace period, answers the calls waiting on them, then
/// closes connections and Redis. Steps still running after the grace period
/// are cancelled, not committed, and left for a resume.
public final class ResumableServer: Service, Sendable {
  private let configuration: SidecarConfiguration
  private let state: any StateBackend
  private let logger: Logger
  private let readiness = Mutex(Readiness.starting(waiters: []))

  /// Whether the server accepts connections yet: one state, so a caller
  /// arriving after start-up failed learns of the failure, not of readiness.
  private enum Readiness {
    case starting(waiters: [CheckedContinuation<Void, any Error>])
    case settled(Result<Void, any Error>)
  }

  /// A server keeping its state in `state`.
  public init(configuration: SidecarConfiguration, state: any StateBackend, logger: Logger) {
    self.configuration = configuration
    self.state = state
    self.logger = logger
  }

  /// A server on a store that is open already (one a program or a test built).
  public convenience init(configuration: SidecarConfiguration, store: any StateStore, logger: Logger) {
    self.init(configuration: configuration, state: StoreBackend(store), logger: logger)
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
    let transport = configuration.transport
    // Before anything starts: a socket directory that is not ours is a refusal at once.
    do {
      try SocketDirectory.secure(forSocket: transport.socketPath, create: true)
    } catch {
      throw ServerError(error.description)
    }
    let opened = try await state.open(logger: logger)
    var closers = opened.closers
    let services: [any Service]
    let engine: WorkflowEngine
    let metricsURL: String
    do {
      var engineConfiguration = configuration.engine
      if engineConfiguration.laneExecutors.isEmpty {
        engineConfiguration.laneExecutors = EventLoopExecutor.all(of: MultiThreadedEventLoopGroup.singleton)
      }
      engine = WorkflowEngine(
        store: opened.store, registry: configuration.plugins, workflows: configuration.workflows,
        configuration: engineConfiguration, logger: logger)
      let dispatcher = Dispatcher(engine: engine, logger: logger, storeNote: opened.healthNote)
      if let endpoint = configuration.metrics {
        let metrics: MetricsServer
        do {
          metrics = try await MetricsServer.start(endpoint: endpoint, group: MultiThreadedEventLoopGroup.singleton)
        } catch {
          throw ServerError("cannot serve metrics: \(error)")
        }
        closers.append { await metrics.close() }
        metricsURL = "http://\(metrics.boundAddress)/metrics"
      } else {
        metricsURL = "off"
      }
      let accepted = AcceptedConnections<ByteBuffer, ByteBuffer>()
      let listener = try await SocketListener.bind(transport, into: accepted, logger: logger)
      // Shut down in reverse: the listener, the engine, the connections, then what was opened.
      services =
        closers.map { ClosingService(close: $0) }
        + [
          ConnectionService(accepted: accepted, dispatcher: dispatcher, transport: transport, logger: logger),
          EngineService(engine: engine, grace: configuration.shutdownGracePeriod, logger: logger),
          ClosingService(close: listener.close),
        ]
    } catch {
      for close in closers.reversed() { await close() }
      throw error
    }
    logger.info(
      "listening",
      metadata: [
        "socket": "\(transport.socketPath)", "workflows": "\(engine.workflowNames.joined(separator: ","))",
        "socket_mode": "\(String(transport.access.socketMode, radix: 8))", "metrics": "\(metricsURL)",
      ])
    settleReadiness(.success(()))
    defer { try? FileManager.default.removeItem(atPath: transport.socketPath) }
    try await ServiceGroup(services: services, logger: logger).run()
    logger.info("server stopped")
  }
}
