import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import ResumableClient
import ResumableServer
import ResumableTestSupport
import ResumableWire
import Testing

@Suite("Server lifecycle")
struct ServerLifecycleTests {
  static let workflows = researchYAML(record: "/dev/null")

  @Test func socketFileIsOwnerOnly() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.workflows) { server in
        var info = stat()
        #expect(lstat(server.socketPath, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
      }
    }
  }

  @Test func refusesToStartWhileAnotherServerListens() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      try await LiveServer.with(redis: redis, workflows: Self.workflows, socketDirectory: directory) { server in
        let error = await #expect(throws: (any Error).self) {
          try await LiveServer.with(redis: redis, workflows: Self.workflows, socketDirectory: directory) { _ in }
        }
        #expect("\(error!)".contains("another server is listening"))
        // The first server is unharmed.
        try await server.withClient { client in
          _ = try? await client.getState(GetStateRequest(workflowID: "x"))
        }
      }
    }
  }

  @Test func removesAStaleSocketFile() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      // A socket file nobody listens on, as a killed server leaves behind.
      let path = directory.appending("rsm.sock")
      let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
      var address = sockaddr_un()
      address.sun_family = sa_family_t(AF_UNIX)
      withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
      }
      let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
      }
      #expect(bound == 0)
      close(fd)
      try await LiveServer.with(redis: redis, workflows: Self.workflows, socketDirectory: directory) { server in
        try await server.withClient { client in
          let error = await #expect(throws: ResumableClientError.self) {
            _ = try await client.getState(GetStateRequest(workflowID: "x"))
          }
          #expect(error?.code == .notFound)
        }
      }
    }
  }

  @Test func refusesAPathThatIsNotASocket() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      _ = FileManager.default.createFile(atPath: directory.appending("rsm.sock"), contents: Data("keep me".utf8))
      let error = await #expect(throws: (any Error).self) {
        try await LiveServer.with(redis: redis, workflows: Self.workflows, socketDirectory: directory) { _ in }
      }
      #expect("\(error!)".contains("is not a socket"))
      #expect(FileManager.default.contents(atPath: directory.appending("rsm.sock")) == Data("keep me".utf8))
    }
  }

  @Test func gracefulShutdownLetsTheStepInFlightCommit() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      let prefix = uniqueKeyPrefix()
      // Step `one` lasts 1.5 s: long enough that the shutdown begins while it
      // runs, however slowly a loaded machine (the whole suite in parallel) gets there.
      let yaml = researchYAML(record: record.path) + """

          - name: graceful
            steps:
              - {name: one, plugin: simulate, config: {latency_ms: 1500, record: \(record.path)}}
              - {name: two, plugin: simulate, config: {latency_ms: 400, record: \(record.path)}}
        """
      // Shut down while step `one` is running, with a waiting caller.
      try await LiveServer.with(redis: redis, workflows: yaml, keyPrefix: prefix) { server in
        try await server.withClient { client in
          let state = try await client.startWorkflow(StartWorkflowRequest(workflow: "graceful", workflowID: "grace", noWait: true)).state
          #expect(state.status == .running)
          try await Task.sleep(for: .milliseconds(100))
        }
      }
      // Step one finished and committed; two never started; the lease was released.
      // (No recovery loop here, so the state is seen as it was left.)
      try await LiveServer.with(
        redis: redis, workflows: yaml, keyPrefix: prefix, configure: { $0.engine.recoveryInterval = nil }
      ) { server in
        try await server.withClient { client in
          let state = try await client.getState(GetStateRequest(workflowID: "grace")).state
          #expect(state.status == .running)
          #expect(state.steps.map(\.status) == [.completed, .running])
          #expect(record.executions(of: "grace") == ["one": 1])
          // Another server takes the run at once (no lease to wait out) and finishes it.
          let resumed = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "grace")).state
          #expect(resumed.status == .completed)
          #expect(record.executions(of: "grace") == ["one": 1, "two": 1])
        }
      }
    }
  }

  /// Connections keep arriving while the server shuts down: each is served
  /// or closed, never dropped (a dropped NIOAsyncChannel traps the process).
  @Test func connectionsArrivingDuringShutdownAreClosedCleanly() async throws {
    try await withTestRedis { redis in
      for _ in 0..<5 {
        let directory = try await TemporaryDirectory.create()
        let path = directory.appending("rsm.sock")
        let stop = StopFlag()
        try await withThrowingTaskGroup(of: Void.self) { group in
          for _ in 0..<4 {
            group.addTask {
              while !stop.isSet {
                let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                  .connect(unixDomainSocketPath: path).get()
                try? await channel?.close()
                if channel == nil { try await Task.sleep(for: .milliseconds(1)) }
              }
            }
          }
          try await LiveServer.with(redis: redis, workflows: Self.workflows, socketDirectory: directory) { server in
            try await Task.sleep(for: .milliseconds(30))
          }
          try await Task.sleep(for: .milliseconds(20))
          stop.set()
          try await group.waitForAll()
        }
        await directory.remove()
      }
    }
  }
}

/// A flag one task sets and others poll.
final class StopFlag: Sendable {
  private let value = Atomic<Bool>(false)
  var isSet: Bool { value.load(ordering: .relaxed) }
  func set() { value.store(true, ordering: .relaxed) }
}
