import ResumableCore
import ResumableRedis
import ResumableStore
import ResumableTestSupport
import Testing

/// The stores the conformance suite runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
  /// `RedisStateStore` on a private redis-server, on real time.
  case redis
  /// `InMemoryStateStore` on a `ManualClock`.
  case memory

  var testDescription: String { rawValue }
}

/// One store of `StoreConformanceTests`, with the clock its writes read and a
/// way to let its time pass.
struct StoreUnderTest: Sendable {
  let kind: StoreKind
  let store: any StateStore
  /// The store's time: the system clock for Redis, the manual clock of the in-memory store.
  let clock: any EngineClock
  let manualClock: ManualClock?
  /// The Redis store's connection and key prefix, to read its keys raw (nil for the in-memory store).
  var redis: RedisClient? = nil
  var keyPrefix = ""

  /// Runs `body` with a fresh store of `kind` (Redis: its own redis-server).
  static func with(_ kind: StoreKind, _ body: (StoreUnderTest) async throws -> Void) async throws {
    switch kind {
    case .redis:
      try await withTestRedis { redis in
        try await redis.withClient { client in
          // No grace for list entries: the tests expire runs in milliseconds
          // (WriteSafetyTests covers the grace).
          let store = RedisStateStore(client: client, keyPrefix: uniqueKeyPrefix(), listEntryGrace: .zero)
          try await body(
            StoreUnderTest(
              kind: kind, store: store, clock: SystemClock(), manualClock: nil, redis: client, keyPrefix: store.keyPrefix))
        }
      }
    case .memory:
      let clock = ManualClock()
      try await body(StoreUnderTest(kind: kind, store: InMemoryStateStore(clock: clock), clock: clock, manualClock: clock))
    }
  }

  var nowMs: Int64 { clock.epochMilliseconds }

  /// A write's timing now (or `ago` ms in the past), with a new operation id unless given.
  func timing(ago: Int64 = 0, ttl: Int64 = 60_000, lease: Int64 = 10_000, operation: String = WriteTiming.newOperation())
    -> WriteTiming
  {
    WriteTiming(nowMs: nowMs - ago, ttlMs: ttl, leaseMs: lease, operation: operation)
  }

  /// Creates run `id` of `RedisStateStoreTests.definition` (steps a, b, c) and returns its fencing token.
  @discardableResult
  func create(_ id: String, ago: Int64 = 0, ttl: Int64 = 60_000, lease: Int64 = 10_000) async throws -> UInt64 {
    let outcome = try await store.create(newRun(id, timing: timing(ago: ago, ttl: ttl, lease: lease)))
    guard case .created(let fence) = outcome else { throw StoreError(.conflict, "run '\(id)' was not created") }
    return fence
  }

  func newRun(_ id: String, timing: WriteTiming) -> NewRun {
    NewRun(
      workflowID: id, definition: RedisStateStoreTests.definition, input: Array("{}".utf8),
      firstStep: StepProgress().beginningAttempt(at: timing.nowMs), timing: timing)
  }

  /// The commit of step `cursor` of run `id`, now.
  func commit(_ id: String, fence: UInt64, cursor: Int, artifact: String = "{\"x\":1}") -> StepCommit {
    RedisStateStoreTests.commit(id, fence: fence, cursor: cursor, artifact: artifact, timing: timing())
  }

  /// Takes the lease of run `id` (which nobody must hold) and returns its token.
  func acquire(_ id: String) async throws -> UInt64 {
    guard case .acquired(let fence) = try await store.acquireLease(workflowID: id, ttl: .seconds(10)) else {
      throw StoreError(.conflict, "the lease of run '\(id)' was not free")
    }
    return fence
  }

  /// Lets `duration` of the store's time pass, then expects `condition` to
  /// hold: the manual clock moves at once; Redis' time is real, so the check
  /// is repeated until it holds (a wait on the condition, not a fixed sleep).
  func afterTime(
    _ duration: Duration, sourceLocation: SourceLocation = #_sourceLocation, until condition: () async throws -> Bool
  ) async throws {
    if let manualClock {
      manualClock.advance(by: duration)
      #expect(try await condition(), "after \(duration) on the manual clock", sourceLocation: sourceLocation)
      return
    }
    try await eventually(timeout: duration + .seconds(5)) {
      guard try await condition() else { throw StoreError(.conflict, "not yet, after \(duration)") }
    }
  }

  /// What a reader can see of run `id`: the run with its artifacts and
  /// history, and its events, to check that a refused write wrote nothing.
  func snapshot(_ id: String) async throws -> Snapshot {
    Snapshot(
      record: try await store.load(workflowID: id, includeArtifacts: true, includeHistory: true),
      events: try await store.events(workflowID: id, after: "0-0", limit: 10_000))
  }

  struct Snapshot: Equatable {
    var record: RunRecord?
    var events: RunEventBatch?
  }

  /// The types of run `id`'s events, oldest first.
  func eventTypes(_ id: String) async throws -> [String] {
    try await store.events(workflowID: id, after: "0-0", limit: 10_000)?.events.map(\.event.type) ?? []
  }

  /// The ids of the runs whose recovery check is due.
  func dueIDs() async throws -> [String] {
    try await store.recoveryCandidates(limit: 1000).map(\.workflowID)
  }
}
