public import ResumableCore
import Synchronization

/// An `EngineClock` that moves only when a test says so: sleeps return when
/// `advance(by:)` carries the clock past their deadline, so timers (backoff,
/// lease renewal, timeouts, polls) run at once and in order, with no wall
/// time spent.
///
/// Like postgres-nio's `MockClock`: a test waits until the code under test is
/// asleep (`waitForSleepers(_:)`), then advances.
public final class ManualClock: EngineClock {
  private struct Sleeper {
    var deadline: ContinuousClock.Instant
    var wake: OneShotSignal<Never>
  }

  private struct State {
    var offset: Duration = .zero
    var nextID = 0
    var sleepers: [Int: Sleeper] = [:]
  }

  private let base = ContinuousClock.now
  private let epochBase: Int64
  private let state = Mutex(State())

  /// - Parameter epochMilliseconds: the wall clock's reading at the start.
  public init(epochMilliseconds: Int64 = 1_800_000_000_000) {
    self.epochBase = epochMilliseconds
  }

  public var now: ContinuousClock.Instant { base + state.withLock { $0.offset } }

  public var epochMilliseconds: Int64 { epochBase + state.withLock { $0.offset }.wholeMilliseconds }

  /// How far the clock has been advanced.
  public var elapsed: Duration { state.withLock { $0.offset } }

  /// How many sleeps are waiting for the clock to move.
  public var sleepers: Int { state.withLock { $0.sleepers.count } }

  /// The earliest deadline of a waiting sleep.
  public var nextDeadline: ContinuousClock.Instant? {
    state.withLock { $0.sleepers.values.map(\.deadline).min() }
  }

  public func sleep(until deadline: ContinuousClock.Instant) async throws {
    try Task.checkCancellation()
    let wake = OneShotSignal<Never>()
    let id: Int? = state.withLock { state in
      if deadline <= base + state.offset { return nil }
      defer { state.nextID += 1 }
      state.sleepers[state.nextID] = Sleeper(deadline: deadline, wake: wake)
      return state.nextID
    }
    guard let id else { return }
    do {
      try await wake.wait()
    } catch {
      state.withLock { _ = $0.sleepers.removeValue(forKey: id) }
      throw error
    }
  }

  /// Moves the clock on by `duration` and wakes every sleep whose deadline it reaches.
  public func advance(by duration: Duration) {
    let due = state.withLock { state -> [Sleeper] in
      state.offset += duration
      let now = base + state.offset
      let due = state.sleepers.filter { $0.value.deadline <= now }
      for key in due.keys { state.sleepers.removeValue(forKey: key) }
      return due.values.sorted { $0.deadline < $1.deadline }
    }
    for sleeper in due { sleeper.wake.finish() }
  }

  /// Moves the clock to the earliest waiting deadline (if any) and wakes it.
  /// - Returns: how far the clock moved.
  @discardableResult
  public func advanceToNextDeadline() -> Duration {
    guard let next = nextDeadline else { return .zero }
    let step = max(.zero, next - now)
    advance(by: step)
    return step
  }

  /// Returns once at least `count` sleeps wait for the clock (the code under
  /// test has reached its timers).
  /// - Throws: when that does not happen within `timeout` of real time.
  public func waitForSleepers(_ count: Int = 1, timeout: Duration = .seconds(10)) async throws {
    let deadline = ContinuousClock.now + timeout
    while sleepers < count {
      guard ContinuousClock.now < deadline else {
        throw ManualClockTimeout(expected: count, waiting: sleepers)
      }
      try await Task.sleep(for: .milliseconds(1))
    }
  }
}

/// `waitForSleepers` gave up: the code under test never went to sleep on the clock.
public struct ManualClockTimeout: Error, CustomStringConvertible {
  public var expected: Int
  public var waiting: Int
  public var description: String { "expected \(expected) sleeps on the manual clock, \(waiting) waited" }
}
