/// One argument of a Redis command: a binary-safe byte string.
///
/// Strings are sent as their UTF-8 bytes and integers in decimal, as Redis expects.
public struct RedisArgument: Sendable, Hashable, ExpressibleByStringInterpolation {
  /// The bytes sent to Redis.
  public var bytes: [UInt8]

  /// The UTF-8 bytes of `string`.
  public init(_ string: String) { self.bytes = Array(string.utf8) }

  /// Raw bytes, sent unchanged (may contain `\0` and `\r\n`).
  public init(_ bytes: [UInt8]) { self.bytes = bytes }

  /// The decimal representation of `value`.
  public init(_ value: Int) { self.init(String(value)) }

  /// The decimal representation of `value`.
  public init(_ value: Int64) { self.init(String(value)) }

  /// The decimal representation of `value`.
  public init(_ value: UInt64) { self.init(String(value)) }

  public init(stringLiteral value: String) { self.init(value) }
}

extension RedisArgument: ExpressibleByIntegerLiteral {
  public init(integerLiteral value: Int) { self.init(value) }
}
