import Foundation

/// The engine's time: the wall clock it stores (milliseconds since the Unix
/// epoch, in records, expiries and deadlines of approvals) and the monotonic
/// clock of its timers (retry backoff, lease renewal, step timeouts, circuit
/// breakers, polls).
///
/// The engine asks it for every reading and every sleep, so a test can drive
/// time by hand (`ManualClock` in ResumableTestSupport) instead of waiting for
/// it. Production uses `SystemClock`.
public protocol EngineClock: Sendable {
  /// Now, on the monotonic clock of timers.
  var now: ContinuousClock.Instant { get }
  /// Now, in milliseconds since the Unix epoch.
  var epochMilliseconds: Int64 { get }
  /// Returns at `deadline` (at once when it has passed).
  /// - Throws: `CancellationError` when the calling task is cancelled first.
  func sleep(until deadline: ContinuousClock.Instant) async throws
}

extension EngineClock {
  /// Returns after `duration`.
  /// - Throws: `CancellationError` when the calling task is cancelled first.
  public func sleep(for duration: Duration) async throws {
    try await sleep(until: now + duration)
  }
}

/// The real clocks: `ContinuousClock` and the system's wall clock.
public struct SystemClock: EngineClock {
  public init() {}

  public var now: ContinuousClock.Instant { .now }

  public var epochMilliseconds: Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

  public func sleep(until deadline: ContinuousClock.Instant) async throws {
    try await Task.sleep(until: deadline, clock: .continuous)
  }
}

extension EngineClock where Self == SystemClock {
  /// The real clocks.
  public static var system: SystemClock { SystemClock() }
}
