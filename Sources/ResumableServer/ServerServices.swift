import Logging
import NIOCore
import ResumableCore
import ResumableSocket
import ServiceLifecycle

// The services `ResumableServer` composes. The group shuts them down in the
// reverse of the order they are listed in (`ResumableServer.serve`): the
// listener first, then the engine (steps in flight finish), then the
// connections (every waiting call has had its answer), then what the state
// backend and the metrics endpoint opened.

/// Something opened before the group ran: closed on graceful shutdown, or at
/// once when the group is cancelled.
struct ClosingService: Service {
  let close: @Sendable () async -> Void

  func run() async throws {
    try? await gracefulShutdown()
    await close()
  }
}

/// Serves every connection the listener accepts; on shutdown ends the
/// watches and closes the connections.
struct ConnectionService: Service {
  let accepted: AcceptedConnections<ByteBuffer, ByteBuffer>
  let dispatcher: Dispatcher
  let transport: ServerConfiguration
  let logger: Logger

  func run() async throws {
    let registry = ConnectionRegistry()
    await withDiscardingTaskGroup { tasks in
      tasks.addTask {
        await withDiscardingTaskGroup { connections in
          while let connection = await accepted.next() {
            // A connection's requests run on its channel's event loop: a frame
            // read there, the Redis round trips (on the connection to Redis of
            // that loop) and the answer's write need no hop between threads.
            // Step plugins never run there (the engine's runners have their own).
            let loop = EventLoopExecutor.shared(for: connection.channel.eventLoop)
            connections.addTask(executorPreference: loop) {
              await Connection(
                channel: connection, dispatcher: dispatcher, registry: registry, access: transport.access,
                limits: transport.limits, logger: logger
              ).serve()
            }
          }
        }
      }
      tasks.addTask {
        // Graceful shutdown reaches this service once the engine has stopped,
        // so every waiting call has its answer; watches end now (their runs
        // go on elsewhere), and so do the workers' feeds (their tasks in
        // flight have been answered or cancelled with their runs).
        try? await gracefulShutdown()
        dispatcher.watches.shutDown()
        dispatcher.engine.workers.shutDown()
        await registry.closeAll()
      }
    }
  }
}

/// The engine: its runners, lease keeper and recovery loop. On graceful
/// shutdown it takes no new runs and lets steps in flight finish within the
/// grace period; steps still running then are cancelled, not committed, and
/// left for a resume.
struct EngineService: Service {
  let engine: WorkflowEngine
  let grace: Duration
  let logger: Logger

  func run() async throws {
    await withTaskGroup(of: Void.self) { tasks in
      tasks.addTask { await engine.run() }
      tasks.addTask {
        // Returns when graceful shutdown begins (or at once on cancellation).
        try? await gracefulShutdown()
        logger.info("shutting down: no new connections; steps in flight may finish within \(grace)")
        engine.beginShutdown()
        try? await Task.sleep(for: grace)
      }
      await tasks.next()
      tasks.cancelAll()
    }
  }
}
