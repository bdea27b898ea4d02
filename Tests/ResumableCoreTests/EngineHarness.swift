import Foundation
import Logging
import ResumableCore
import ResumableRedis
import ResumableStore
import ResumableTestSupport
import Synchronization
import Testing

/// A real `WorkflowEngine` on the real Redis store, against a private
/// redis-server; shut down gracefully when the body returns.
struct EngineHarness {
  let engine: WorkflowEngine
  let store: RedisStateStore
  let client: RedisClient
  let prefix: String

  /// Runs `body` with an engine serving the workflows of `yaml` (plugins
  /// settings applied), with `plugins` registered besides the built-in ones.
  static func with<T>(
    redis: TestRedis, yaml: String, plugins: [String: any StepPlugin] = [:],
    address: RedisAddress? = nil,
    configure: (inout EngineConfiguration) -> Void = { _ in },
    _ body: (EngineHarness) async throws -> T
  ) async throws -> T {
    let client = RedisClient(address: address ?? redis.address)
    let prefix = uniqueKeyPrefix()
    let store = RedisStateStore(client: client, keyPrefix: prefix)
    let engine = try makeEngine(store: store, clock: SystemClock(), yaml: yaml, plugins: plugins, configure: configure)
    let harness = EngineHarness(engine: engine, store: store, client: client, prefix: prefix)
    return try await serving(engine, closing: { await client.close() }) { try await body(harness) }
  }

  /// An engine on `store` and `clock` serving the workflows of `yaml`
  /// (plugins settings applied), with `plugins` registered besides the built-in ones.
  static func makeEngine(
    store: any StateStore, clock: any EngineClock, yaml: String, plugins: [String: any StepPlugin],
    configure: (inout EngineConfiguration) -> Void
  ) throws -> WorkflowEngine {
    var registry = PluginRegistry.builtIn()
    for (name, plugin) in plugins { try registry.register(plugin, as: name) }
    let definitions = try DefinitionsFile.parseDefinitions(yaml, file: "test.yaml", registry: registry)
    var configuration = EngineConfiguration()
    definitions.apply(to: &configuration)
    configure(&configuration)
    var logger = Logger(label: "engine-test")
    logger.logLevel = .warning
    return WorkflowEngine(
      store: store, registry: registry, workflows: definitions.workflows, configuration: configuration, clock: clock,
      logger: logger)
  }

  /// Runs `engine` while `body` runs, then shuts it down gracefully (at once
  /// when `body` throws) and calls `closing`.
  static func serving<T>(
    _ engine: WorkflowEngine, closing: () async -> Void, _ body: () async throws -> T
  ) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { await engine.run() }
      do {
        let result = try await body()
        engine.beginShutdown()
        try await group.waitForAll()
        await closing()
        return result
      } catch {
        engine.beginShutdown()
        group.cancelAll()
        try? await group.waitForAll()
        await closing()
        throw error
      }
    }
  }

  /// Starts a run and waits for it to end.
  func run(_ workflow: String, id: String, input: String = "null") async throws -> RunRecord {
    try await engine.start(workflow: workflow, workflowID: id, input: Array(input.utf8), wait: true).record
  }

  /// Polls the run's state until `condition` holds (10 s at most).
  func state(of id: String, until condition: @escaping (RunRecord) -> Bool) async throws -> RunRecord {
    try await eventually(timeout: .seconds(10)) {
      let record = try await engine.state(workflowID: id, includeArtifacts: true, includeHistory: true)
      guard condition(record) else { throw NotYet(record: "\(record.status) \(record.steps.map(\.status))") }
      return record
    }
  }

  struct NotYet: Error {
    var record: String
  }

  /// The artifact of `step` as JSON.
  static func json(_ record: RunRecord, _ step: String) throws -> JSONValue {
    try JSONValue(parsing: try #require(record.artifacts[step]))
  }
}

/// A service whose outage tests switch on and off: attempts fail with a
/// retryable error while it is down.
final class OutageService: Sendable {
  let down = Mutex(true)
  let executions = Mutex(0)
}

struct OutagePlugin: StepPlugin {
  let service: OutageService

  func execute(_ context: StepContext) async throws -> StepOutput {
    service.executions.withLock { $0 += 1 }
    if service.down.withLock({ $0 }) { throw StepFailure("the service is down", retryable: true) }
    return StepOutput(artifact: Array(#""ok""#.utf8))
  }
}

/// Sleeps far longer than any test's timeout and notes each cancellation.
final class SleeperPlugin: StepPlugin {
  let cancelled = Mutex<[Int]>([])

  func execute(_ context: StepContext) async throws -> StepOutput {
    do {
      try await Task.sleep(for: .seconds(60))
    } catch {
      cancelled.withLock { $0.append(context.attempt) }
      throw error
    }
    return StepOutput(artifact: Array("null".utf8))
  }
}

/// Throws an error that says nothing about retrying, on its first attempt only.
struct UnclassifiedErrorPlugin: StepPlugin {
  struct Opaque: Error {}

  func execute(_ context: StepContext) async throws -> StepOutput {
    if context.attempt == 1 { throw Opaque() }
    return StepOutput(artifact: Array("true".utf8))
  }
}
