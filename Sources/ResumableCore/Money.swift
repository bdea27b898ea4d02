import Foundation

/// Money as the ledger keeps it: integer micro-dollars (no rounding drift
/// when attempts' costs add up), converted at the edges.
public enum Money {
  /// The largest amount accepted: a trillion dollars, far from `Int64`'s end.
  static let maximumDollars = 1e12

  /// `dollars` in micro-dollars, rounded; nil unless a finite number from 0
  /// to a trillion.
  public static func micros(fromDollars dollars: Double?) -> Int64? {
    guard let dollars, dollars.isFinite, dollars >= 0, dollars <= maximumDollars else { return nil }
    return Int64((dollars * 1_000_000).rounded())
  }

  /// `micros` in dollars.
  public static func dollars(_ micros: Int64) -> Double { Double(micros) / 1_000_000 }

  /// `micros` as people read it: `$0.25`, `$0.045`, `$12.50` (at least two
  /// decimals, more only when the amount needs them).
  public static func text(_ micros: Int64) -> String {
    let sign = micros < 0 ? "-" : ""
    let magnitude = micros.magnitude
    let whole = magnitude / 1_000_000
    var fraction = String(magnitude % 1_000_000)
    fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
    while fraction.count > 2, fraction.hasSuffix("0") { fraction.removeLast() }
    return "\(sign)$\(whole).\(fraction)"
  }
}
