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
    socketDirectory: TemporaryDirectory? = nil,
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
    let definitions = try DefinitionsFile.parseDefinitions(workflows, file: "test.yaml", registry: .builtIn())
    var configuration = SidecarConfiguration(
      transport: ServerConfiguration(socketPath: socketPath), workflows: definitions.workflows, plugins: .builtIn())
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

/// Runs `body` with a client connected to `socketPath`, closed when `body` returns or throws.
func withConnectedClient<T>(socketPath: String, _ body: (ResumableClient) async throws -> T) async throws -> T {
  let client = try await ResumableClient.connect(socketPath: socketPath)
  do {
    let result = try await body(client)
    await client.close()
    return result
  } catch {
    await client.close()
    throw error
  }
}

/// A record file for `simulate`'s `record` setting, read back as counts.
struct RecordFile {
  let path: String

  init(in directory: TemporaryDirectory) {
    path = directory.appending("record-\(UUID().uuidString.prefix(8))")
  }

  /// Lines `workflow_id step attempt`.
  func lines() -> [String] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
    return text.split(separator: "\n").map(String.init)
  }

  /// How many times each step ran for `workflowID`.
  func executions(of workflowID: String) -> [String: Int] {
    var counts: [String: Int] = [:]
    for line in lines() {
      let parts = line.split(separator: " ")
      guard parts.count == 3, parts[0] == workflowID else { continue }
      counts[String(parts[1]), default: 0] += 1
    }
    return counts
  }
}

/// The research workflow of the README, with fast steps and a record file;
/// `draft` (step 4) fails its first `failDraft` attempts and has one attempt per drive.
func researchYAML(record: String, latency: Int = 5, failDraft: Int = 1) -> String {
  func step(_ name: String, _ inputs: String, extra: String = "") -> String {
    """
          - name: \(name)
            plugin: simulate
            inputs: [\(inputs)]
            config: {latency_ms: \(latency), cost_usd: 0.10, input_tokens: 100, output_tokens: 50, record: \(record)\(extra)}
            retry: {max_attempts: 1}

    """
  }
  return "workflows:\n  - name: research\n    steps:\n"
    + step("search", "input") + step("extract", "search") + step("outline", "extract")
    + step("draft", "outline, extract", extra: ", fail_attempts: \(failDraft)") + step("verify", "draft, outline")
    + """
      - name: echo
        steps:
          - {name: first, plugin: echo, inputs: [input]}
          - {name: second, plugin: echo, inputs: [first]}
          - {name: third, plugin: echo, inputs: [input, second]}
      - name: slow
        steps:
          - {name: one, plugin: simulate, config: {latency_ms: 400, record: \(record)}}
          - {name: two, plugin: simulate, config: {latency_ms: 400, record: \(record)}}
    """
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
