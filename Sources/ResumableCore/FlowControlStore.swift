/// Spend caps kept in the store, shared by every server on it: the part of a
/// store the engine's flow control (spend guard, shared limits) uses.
public protocol FlowControlStore: Sendable {
  /// Adds `micros` spent at `nowMs` to the spend window `window`.
  func addSpend(_ micros: Int64, to window: SpendWindow, nowMs: Int64) async throws(StoreError)

  /// What the spend window `window` holds for the hour before `nowMs`.
  func readSpend(_ window: SpendWindow, nowMs: Int64) async throws(StoreError) -> SpendReading

  /// Asks limiter `limiter` for an attempt at `nowMs`: granted (a slot held by
  /// `holder` for `leaseMs`, or `tokens` reserved), or when to ask again.
  func acquireLimit(_ limiter: Limiter, holder: String, tokens: UInt64, leaseMs: Int64, nowMs: Int64) async throws(StoreError)
    -> LimitAnswer

  /// The attempt `holder` ended: its concurrency slot is freed, or its
  /// reserved tokens settled with the `used` ones (nil: none reported, the
  /// reservation stands).
  func releaseLimit(_ limiter: Limiter, holder: String, reserved: UInt64, used: UInt64?, nowMs: Int64) async throws(StoreError)

  /// Extends `holder`'s concurrency slot to `leaseMs` from `nowMs` (a long attempt).
  func renewLimit(_ limiter: Limiter, holder: String, leaseMs: Int64, nowMs: Int64) async throws(StoreError)

  /// Holds every attempt on `limiter` until `untilMs` (a provider's retry-after).
  func holdLimit(_ limiter: Limiter, untilMs: Int64) async throws(StoreError)
}

/// One limiter: a shared limit, for one key of it.
public struct Limiter: Hashable, Sendable {
  /// The limit's name in the definitions.
  public var name: String
  public var limit: SharedLimit
  /// The rendered key (`key: "{{input.tenant}}"`); nil: the limit's one limiter.
  public var key: String?

  public init(name: String, limit: SharedLimit, key: String? = nil) {
    self.name = name
    self.limit = limit
    self.key = key
  }

  /// The limiter's name in reasons and logs: `NAME` or `NAME[KEY]`.
  public var label: String { key.map { "\(name)[\($0)]" } ?? name }
}

/// A limiter's answer to an attempt.
public enum LimitAnswer: Hashable, Sendable {
  case granted
  /// Not now: ask again at `untilMs`; `why` is the limiter's reason.
  case wait(untilMs: Int64, why: LimitWait)
}

/// Why a limiter holds an attempt back.
public enum LimitWait: String, Hashable, Sendable {
  /// The rate's allowance is used up.
  case rate
  /// Every concurrency slot is held.
  case full
  /// The minute's tokens are reserved or spent.
  case tokens
  /// A provider asked every user of the limiter to wait (a retry-after).
  case held
}

/// The arithmetic of limiters, shared by the stores (the Redis store runs the
/// same in Lua): GCRA for rates, a refilling bucket for tokens.
public enum LimitMath {
  /// GCRA: the theoretical arrival time after granting at `nowMs`, or the
  /// wait until it may be granted. `tat` is the stored one (nil: none).
  public static func rate(tat: Double?, count: Int, perMs: Int, burst: Int, nowMs: Int64) -> (granted: Bool, tat: Double, retryAtMs: Int64) {
    let interval = Double(perMs) / Double(count)
    let now = Double(nowMs)
    let next = max(tat ?? now, now) + interval
    let allowed = now + Double(burst) * interval
    if next > allowed { return (false, tat ?? now, Int64((next - Double(burst) * interval).rounded(.up))) }
    return (true, next, nowMs)
  }

  /// The tokens in a bucket of `perMinute` after refilling from `at` to `nowMs`.
  public static func refilled(_ tokens: Double?, at: Int64?, perMinute: Int, nowMs: Int64) -> Double {
    guard let tokens, let at else { return Double(perMinute) }
    return min(Double(perMinute), tokens + Double(max(0, nowMs - at)) * Double(perMinute) / 60_000)
  }

  /// Whether `wanted` tokens may be taken from `available` (an attempt wanting
  /// more than a whole minute's waits for a full bucket), and when to ask again.
  public static func take(_ wanted: UInt64, available: Double, perMinute: Int, nowMs: Int64) -> (granted: Bool, retryAtMs: Int64) {
    let needed = min(Double(wanted), Double(perMinute))
    if available >= needed { return (true, nowMs) }
    let waitMs = (needed - available) * 60_000 / Double(perMinute)
    return (false, nowMs + max(1, Int64(waitMs.rounded(.up))))
  }
}

/// A sliding hour of spending, summed over every server: the server's
/// (`--max-spend-per-hour`) or a workflow's (`max_spend_per_hour_usd`).
///
/// Spending is kept in one-minute parts: the window at time t holds the
/// minute of t and the 59 before it, so spending leaves it between 59 and 60
/// minutes after it was made.
public enum SpendWindow: Hashable, Sendable {
  case server
  case workflow(String)

  /// The window's length in minutes.
  public static let minutes: Int64 = 60

  /// The minute (since the Unix epoch) of `ms`.
  public static func minute(ofMs ms: Int64) -> Int64 { ms / 60_000 }

  /// The label of a spend cap in metrics and wait reasons.
  public var cap: String {
    switch self {
    case .server: "server"
    case .workflow: "workflow"
    }
  }
}

/// What a spend window holds now.
public struct SpendReading: Hashable, Sendable {
  /// Spent in the window.
  public var spentMicros: Int64
  /// When, in Unix milliseconds, the oldest spending in the window leaves it
  /// (nil: the window is empty).
  public var nextDropAtMs: Int64?

  public init(spentMicros: Int64, nextDropAtMs: Int64?) {
    self.spentMicros = spentMicros
    self.nextDropAtMs = nextDropAtMs
  }

  /// Reads the window's minute parts (minute → micro-dollars) at `nowMs`.
  public init(parts: [Int64: Int64], nowMs: Int64) {
    let oldest = SpendWindow.minute(ofMs: nowMs) - SpendWindow.minutes + 1
    let live = parts.filter { $0.key >= oldest && $0.value > 0 }
    spentMicros = live.values.reduce(0, &+)
    nextDropAtMs = live.keys.min().map { ($0 + SpendWindow.minutes) * 60_000 }
  }
}
