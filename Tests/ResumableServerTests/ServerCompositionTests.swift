import Foundation
import Logging
import ResumableCore
import ResumableServer
import ResumableTestSupport
import ServiceLifecycle
import Synchronization
import Testing

/// `ResumableServer.serve` as a composition root: what the state backend opened is closed
/// once, last, whether the server stops or never starts.
@Suite("Server composition")
struct ServerCompositionTests {
  /// What was closed, in order.
  final class Closes: Sendable {
    private let log = Mutex<[String]>([])
    func append(_ entry: String) { log.withLock { $0.append(entry) } }
    var all: [String] { log.withLock { $0 } }
  }

  /// A backend that opens a real Redis store and records each close.
  struct RecordingBackend: StateBackend {
    let inner: RedisStateBackend
    let closes = Closes()

    func open(logger: Logger) async throws -> OpenedState {
      var opened = try await inner.open(logger: logger)
      let closes = self.closes
      opened.closers = opened.closers.enumerated().map { index, close in
        { @Sendable in
          await close()
          closes.append("closer \(index)")
        }
      }
      return opened
    }
  }

  static func configuration(socketPath: String) throws -> SidecarConfiguration {
    let definitions = try DefinitionsFile.parseDefinitions(
      researchYAML(record: "/dev/null"), file: "test.yaml", registry: .builtIn())
    return SidecarConfiguration(
      transport: ServerConfiguration(socketPath: socketPath), workflows: definitions.workflows, plugins: .builtIn())
  }

  @Test func aStartThatFailsClosesWhatTheBackendOpenedInReverse() async throws {
    try await withTestRedis { redis in
      try await withTemporaryDirectory { directory in
        // A regular file where the socket should go: binding is refused.
        let socketPath = directory.appending("not-a-socket")
        try "x".write(toFile: socketPath, atomically: true, encoding: .utf8)
        let backend = RecordingBackend(inner: RedisStateBackend(.external(redis.address)))
        let server = ResumableServer(
          configuration: try Self.configuration(socketPath: socketPath), state: backend, logger: Logger(label: "test"))
        let error = await #expect(throws: ServerError.self) { try await server.run() }
        #expect(error?.setting == .socketPath, "\(String(describing: error))")
        #expect(backend.closes.all == ["closer 0"])
        // Whoever waits for readiness learns of the failure too.
        await #expect(throws: ServerError.self) { try await server.waitUntilReady() }
      }
    }
  }

  @Test func aGracefulStopClosesTheBackendOnceAfterEverythingElse() async throws {
    try await withTestRedis { redis in
      try await withTemporaryDirectory { directory in
        let socketPath = directory.appending("s.sock")
        let backend = RecordingBackend(inner: RedisStateBackend(.external(redis.address)))
        let server = ResumableServer(
          configuration: try Self.configuration(socketPath: socketPath), state: backend, logger: Logger(label: "test"))
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
          tasks.addTask { try await group.run() }
          try await server.waitUntilReady()
          let health = try await withConnectedClient(socketPath: socketPath) { client in
            try await client.health()
          }
          #expect(health.status == "SERVING")
          #expect(backend.closes.all.isEmpty)
          await group.triggerGracefulShutdown()
          try await tasks.waitForAll()
        }
        #expect(backend.closes.all == ["closer 0"])
        #expect(!FileManager.default.fileExists(atPath: socketPath))
      }
    }
  }
}
