import Foundation
import Logging
import ResumableClient
import ResumableCore
import ResumableRedis
import ResumableServer
import ResumableTestSupport
import ServiceLifecycle
import Testing

/// A real `ResumableServer` in this process, on a temporary socket, against a
/// test Redis; stopped with a graceful shutdown when the body returns.
struct LiveServer {
  let socketPath: String
  let keyPrefix: String
  let directory: TemporaryDirectory

  static func parse(_ yaml: String) throws -> [WorkflowDefinition] {
    try DefinitionsFile.parse(yaml, file: "test.yaml", registry: .builtIn())
  }

  /// Runs `body` against a server started with `workflows` (YAML text).
  static func with<T>(
    redis: TestRedis, workflows: String, keyPrefix: String = uniqueKeyPrefix(),
    socketDirectory: TemporaryDirectory? = nil, plugins: PluginRegistry = .builtIn(),
    configure: (inout SidecarConfiguration) -> Void = { _ in },
    _ body: (LiveServer) async throws -> T
  ) async throws -> T {
    let directory: TemporaryDirectory
    if let socketDirectory {
      directory = socketDirectory
    } else {
      directory = try await TemporaryDirectory.create()
    }
    let socketPath = directory.appending("rsm.sock")
    let definitions = try DefinitionsFile.parseDefinitions(workflows, file: "test.yaml", registry: plugins)
    var configuration = SidecarConfiguration(
      transport: ServerConfiguration(socketPath: socketPath), workflows: definitions.workflows, plugins: plugins)
    definitions.apply(to: &configuration.engine)
    var state = RedisStateBackend(.external(redis.address))
    state.keyPrefix = keyPrefix
    configuration.shutdownGracePeriod = .seconds(5)
    configure(&configuration)
    var logger = Logger(label: "test-server")
    logger.logLevel = .warning
    let server = ResumableServer(configuration: configuration, state: state, logger: logger)
    let group = ServiceGroup(services: [server], logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
      tasks.addTask { try await group.run() }
      do {
        try await server.waitUntilReady()
        let result = try await body(LiveServer(socketPath: socketPath, keyPrefix: keyPrefix, directory: directory))
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        if socketDirectory == nil { await directory.remove() }
        return result
      } catch {
        await group.triggerGracefulShutdown()
        try? await tasks.waitForAll()
        if socketDirectory == nil { await directory.remove() }
        throw error
      }
    }
  }

  /// A connected client; closed when `body` returns.
  func withClient<T>(_ body: (ResumableClient) async throws -> T) async throws -> T {
    try await withConnectedClient(socketPath: socketPath, body)
  }
}

/// The error a call failed with, or nil when it succeeded (any other error is recorded).
func clientError(_ body: () async throws -> Void) async -> ResumableClientError? {
  do {
    try await body()
    return nil
  } catch let error as ResumableClientError {
    return error
  } catch {
    Issue.record("unexpected \(error)")
    return nil
  }
}
