import ResumableCore
import ResumableTestSupport
import Testing

/// A real `WorkflowEngine` on the in-memory store and a manual clock: no
/// redis-server and no wall time, for the fast tier (`make test-fast`).
/// `StoreConformanceTests` keeps the in-memory store to the Redis store's contract.
///
/// The recovery loop is off (one engine, nothing to adopt). Time moves only
/// when a test waits for a state (`state(of:until:)`), a tick at a time, so
/// backoffs, timeouts and circuit cooldowns pass in milliseconds of real time.
struct FastEngineHarness {
  let engine: WorkflowEngine
  let store: InMemoryStateStore
  let clock: ManualClock

  /// Runs `body` with an engine serving the workflows of `yaml`, with
  /// `plugins` registered besides the built-in ones; the store awaits
  /// `beforeRelease` before each lease release.
  static func with<T>(
    yaml: String, plugins: [String: any StepPlugin] = [:],
    configure: (inout EngineConfiguration) -> Void = { _ in },
    beforeRelease: @escaping @Sendable () async -> Void = {},
    _ body: (FastEngineHarness) async throws -> T
  ) async throws -> T {
    let clock = ManualClock()
    let store = InMemoryStateStore(clock: clock, beforeRelease: beforeRelease)
    let engine = try EngineHarness.makeEngine(store: store, clock: clock, yaml: yaml, plugins: plugins) { configuration in
      configuration.recoveryInterval = nil
      configure(&configuration)
    }
    let harness = FastEngineHarness(engine: engine, store: store, clock: clock)
    return try await EngineHarness.serving(engine, closing: {}) { try await body(harness) }
  }

  /// Starts a run and returns it once it has ended, moving time as it needs.
  func run(_ workflow: String, id: String, input: String = "null") async throws -> RunRecord {
    _ = try await engine.start(workflow: workflow, workflowID: id, input: Array(input.utf8), wait: false)
    return try await state(of: id) { $0.status.isTerminal }
  }

  /// The run's state once `condition` holds. Between reads the manual clock
  /// moves on by `tick` (at most `limit` in all): time passes only while the
  /// test waits, and in steps small enough that a state in between is seen.
  func state(
    of id: String, tick: Duration = .milliseconds(50), limit: Duration = .seconds(600),
    until condition: (RunRecord) -> Bool
  ) async throws -> RunRecord {
    var moved = Duration.zero
    // Generous: the whole suite runs in parallel on two loaded cores.
    let realDeadline = ContinuousClock.now + .seconds(60)
    while true {
      let record = try await engine.state(workflowID: id, includeArtifacts: true, includeHistory: true)
      if condition(record) { return record }
      guard moved < limit, ContinuousClock.now < realDeadline else {
        throw EngineHarness.NotYet(record: "\(record.status) \(record.steps.map(\.status)) after \(moved) on the clock")
      }
      // Lets the engine's tasks run up to their next wait, then moves time.
      try await Task.sleep(for: .milliseconds(1))
      clock.advance(by: tick)
      moved += tick
    }
  }
}
