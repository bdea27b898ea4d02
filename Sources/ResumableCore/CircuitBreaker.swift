import Synchronization

/// When a plugin's circuit opens, and for how long.
public struct CircuitBreakerPolicy: Hashable, Sendable {
  /// Consecutive failed attempts (across runs) that open the circuit. A
  /// retryable error, a rate limit and a timeout count; a non-retryable error
  /// (bad input, not an unhealthy service) neither counts nor resets.
  public var failureThreshold: Int
  /// How long the circuit stays open before one probe attempt is let through.
  public var cooldown: Duration
  /// False: the plugin has no breaker (`circuit_breaker: off`).
  public var enabled: Bool

  public init(failureThreshold: Int = 5, cooldown: Duration = .seconds(30), enabled: Bool = true) {
    self.failureThreshold = max(1, failureThreshold)
    self.cooldown = cooldown
    self.enabled = enabled
  }

  /// No breaker.
  public static let off = CircuitBreakerPolicy(enabled: false)
}

/// One circuit breaker per plugin, shared by every run this engine drives.
///
/// Closed: attempts go through; `failureThreshold` consecutive failures open
/// it. Open: steps that need the plugin wait (no attempt is begun, none of
/// their retry budget is spent) until the cool-down ends. Half-open: one
/// waiting step's attempt is the probe; its success closes the circuit and
/// lets every waiting step go, its failure opens it for another cool-down.
///
/// - Important: every `admit` that returns `.proceed` must be followed by
///   exactly one `record` for that plugin, so a probe is never left dangling.
public final class CircuitBreakers: Sendable {
  /// What `admit` decided.
  public enum Admission: Hashable, Sendable {
    /// Run the attempt; `probe` when it is the half-open circuit's probe.
    case proceed(probe: Bool)
    /// Do not run it yet: ask again at `until` (the end of the cool-down,
    /// or a poll while a probe is in flight). `reason` is for the step's state.
    case wait(until: ContinuousClock.Instant, reason: String)
  }

  /// How an admitted attempt ended, for the breaker.
  public enum Outcome: Hashable, Sendable {
    /// Succeeded: the service is healthy.
    case success
    /// Failed in a way that says the service is unhealthy (retryable, rate-limited, timed out).
    case failure
    /// Says nothing about the service (non-retryable error, cancelled, lease lost).
    case neutral
  }

  private enum Circuit {
    case closed(failures: Int)
    case open(until: ContinuousClock.Instant)
    case halfOpen(probing: Bool)
  }

  private let policies: [String: CircuitBreakerPolicy]
  private let defaultPolicy: CircuitBreakerPolicy?
  private let pollInterval: Duration
  private let circuits = Mutex<[String: Circuit]>([:])

  /// - Parameters:
  ///   - policies: per-plugin policies, by plugin name.
  ///   - defaultPolicy: for plugins without their own; nil leaves them without a breaker.
  ///   - pollInterval: how often a waiting step asks again while a probe is in flight.
  public init(
    policies: [String: CircuitBreakerPolicy], defaultPolicy: CircuitBreakerPolicy?,
    pollInterval: Duration = .milliseconds(50)
  ) {
    self.policies = policies
    self.defaultPolicy = defaultPolicy
    self.pollInterval = pollInterval
  }

  /// The policy of `plugin`, if it has a breaker.
  public func policy(for plugin: String) -> CircuitBreakerPolicy? {
    guard let policy = policies[plugin] ?? defaultPolicy, policy.enabled else { return nil }
    return policy
  }

  /// Whether an attempt of `plugin` may run now.
  public func admit(_ plugin: String, now: ContinuousClock.Instant = .now) -> Admission {
    guard policy(for: plugin) != nil else { return .proceed(probe: false) }
    return circuits.withLock { circuits in
      switch circuits[plugin] ?? .closed(failures: 0) {
      case .closed:
        return .proceed(probe: false)
      case .open(let until) where now >= until:
        circuits[plugin] = .halfOpen(probing: true)
        return .proceed(probe: true)
      case .open(let until):
        return .wait(
          until: until,
          reason: "the circuit of plugin '\(plugin)' is open after repeated failures; waiting for its half-open probe")
      case .halfOpen(probing: false):
        circuits[plugin] = .halfOpen(probing: true)
        return .proceed(probe: true)
      case .halfOpen(probing: true):
        return .wait(
          until: now + pollInterval,
          reason: "the circuit of plugin '\(plugin)' is half-open; waiting for its probe's result")
      }
    }
  }

  /// Records how an admitted attempt of `plugin` ended.
  public func record(_ plugin: String, _ outcome: Outcome, probe: Bool, now: ContinuousClock.Instant = .now) {
    guard let policy = policy(for: plugin) else { return }
    circuits.withLock { circuits in
      let circuit = circuits[plugin] ?? .closed(failures: 0)
      switch (outcome, circuit) {
      case (.success, _):
        circuits[plugin] = .closed(failures: 0)
      case (.failure, .closed(let failures)):
        circuits[plugin] =
          failures + 1 >= policy.failureThreshold ? .open(until: now + policy.cooldown) : .closed(failures: failures + 1)
      case (.failure, .halfOpen):
        circuits[plugin] = .open(until: now + policy.cooldown)
      case (.failure, .open):
        break  // admitted before the circuit opened; the cool-down stands
      case (.neutral, .halfOpen(probing: true)) where probe:
        circuits[plugin] = .halfOpen(probing: false)  // let another step probe
      case (.neutral, _):
        break
      }
    }
  }
}
