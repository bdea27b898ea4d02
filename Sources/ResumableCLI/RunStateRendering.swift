import ResumableWire

/// Renders a run's state as the `resumable` CLI prints it: a JSON object for scripts
/// (``json(_:includeArtifacts:)``), or text for people (``text(_:includeArtifacts:)``).
///
/// Pure functions of the state: no I/O, no clock.
public enum RunStateRendering {
  /// Money as US dollars with 4 decimals, e.g. `12345` micro-dollars → `0.0123`
  /// (rounded half away from zero).
  /// - Parameter micros: Integer micro-dollars, as on the wire.
  public static func usd(micros: Int64) -> String {
    let tenThousandths = (micros.magnitude + 50) / 100
    let fraction = String(tenThousandths % 10_000)
    let sign = micros < 0 && tenThousandths != 0 ? "-" : ""
    return "\(sign)\(tenThousandths / 10_000)."
      + String(repeating: "0", count: 4 - fraction.count) + fraction
  }

  /// Money as a JSON number of US dollars: `micros / 1e6`.
  /// - Parameter micros: Integer micro-dollars, as on the wire.
  public static func dollars(micros: Int64) -> Double {
    Double(micros) / 1_000_000
  }

  /// An RFC 3339 UTC timestamp with milliseconds, e.g. `2026-01-02T03:04:05.678Z`;
  /// `nil` for 0, which the wire uses for "not set".
  /// - Parameter unixMilliseconds: Milliseconds since 1970-01-01T00:00:00Z.
  public static func timestamp(unixMilliseconds: Int64) -> String? {
    guard unixMilliseconds != 0 else { return nil }
    // Integer arithmetic throughout: a Double of seconds would turn .123 into .122.
    let (days, millisecondOfDay) = floorDivision(unixMilliseconds, 86_400_000)
    let (year, month, day) = civilDate(daysSinceEpoch: days)
    let (hour, minute, second, millisecond) = (
      millisecondOfDay / 3_600_000, millisecondOfDay / 60_000 % 60, millisecondOfDay / 1000 % 60,
      millisecondOfDay % 1000
    )
    return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
      + "\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(millisecond, 3))Z"
  }

  private static func floorDivision(_ a: Int64, _ b: Int64) -> (quotient: Int64, remainder: Int64)
  {
    let remainder = a % b
    return remainder < 0 ? (a / b - 1, remainder + b) : (a / b, remainder)
  }

  /// The proleptic Gregorian date of a day number (days since 1970-01-01), after Howard Hinnant's
  /// `civil_from_days`.
  private static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64)
  {
    let (era, _) = floorDivision(daysSinceEpoch + 719_468, 146_097)
    let dayOfEra = daysSinceEpoch + 719_468 - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let shiftedMonth = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
    let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
  }

  private static func pad(_ value: Int64, _ width: Int) -> String {
    let digits = String(value.magnitude)
    let sign = value < 0 ? "-" : ""
    return sign + String(repeating: "0", count: max(0, width - digits.count)) + digits
  }
}

extension RunStatus {
  /// The status as scripts see it: `RUNNING`, `COMPLETED`, `FAILED`, `AWAITING_APPROVAL`,
  /// `CANCELLED`, `AWAITING_BUDGET` (`UNSPECIFIED` for a number this client does not know).
  var renderedName: String {
    switch self {
    case .unspecified: "UNSPECIFIED"
    case .running: "RUNNING"
    case .completed: "COMPLETED"
    case .failed: "FAILED"
    case .awaitingApproval: "AWAITING_APPROVAL"
    case .cancelled: "CANCELLED"
    case .awaitingBudget: "AWAITING_BUDGET"
    }
  }
}

extension StepStatus {
  /// The status as scripts see it: `PENDING`, `RUNNING`, `COMPLETED`, `FAILED`, `RETRYING`,
  /// `WAITING` (`UNSPECIFIED` for a number this client does not know).
  var renderedName: String {
    switch self {
    case .unspecified: "UNSPECIFIED"
    case .pending: "PENDING"
    case .running: "RUNNING"
    case .completed: "COMPLETED"
    case .failed: "FAILED"
    case .retrying: "RETRYING"
    case .waiting: "WAITING"
    }
  }
}
