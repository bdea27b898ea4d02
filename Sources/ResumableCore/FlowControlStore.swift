/// Spend caps kept in the store, shared by every server on it: the part of a
/// store the engine's flow control (spend guard, shared limits) uses.
public protocol FlowControlStore: Sendable {
  /// Adds `micros` spent at `nowMs` to the spend window `window`.
  func addSpend(_ micros: Int64, to window: SpendWindow, nowMs: Int64) async throws(StoreError)

  /// What the spend window `window` holds for the hour before `nowMs`.
  func readSpend(_ window: SpendWindow, nowMs: Int64) async throws(StoreError) -> SpendReading
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
