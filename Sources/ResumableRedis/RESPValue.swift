/// One RESP2 reply from Redis, copied out of hiredis into plain Swift values.
///
/// Error replies are values too: `RedisClient.send` and `pipeline` return them as
/// `.error(message)` and leave the decision to the caller.
public enum RESPValue: Sendable, Hashable {
  /// A status reply such as `+OK`.
  case simpleString(String)
  /// An error reply such as `-ERR unknown command`; the message without the leading `-`.
  case error(String)
  /// An integer reply (`:42`).
  case integer(Int64)
  /// A bulk string: arbitrary bytes, may contain `\0` and `\r\n`.
  case bulkString([UInt8])
  /// The nil bulk string (`$-1`) or the nil array (`*-1`).
  case null
  /// An array reply; elements may be arrays themselves.
  case array([RESPValue])
}

extension RESPValue {
  /// The text of a status reply or of a bulk string that is valid UTF-8; `nil` otherwise.
  public var string: String? {
    switch self {
    case .simpleString(let text): text
    case .bulkString(let bytes): String(validating: bytes, as: UTF8.self)
    default: nil
    }
  }

  /// The bytes of a bulk string or status reply; `nil` otherwise.
  public var bytes: [UInt8]? {
    switch self {
    case .bulkString(let bytes): bytes
    case .simpleString(let text): Array(text.utf8)
    default: nil
    }
  }

  /// An integer reply, or a string reply that holds a decimal integer (Redis returns
  /// counters read with `GET` as bulk strings); `nil` otherwise.
  public var int: Int64? {
    switch self {
    case .integer(let value): value
    case .bulkString, .simpleString: self.string.flatMap { Int64($0) }
    default: nil
    }
  }

  /// The elements of an array reply; `nil` otherwise (also for the nil array).
  public var array: [RESPValue]? {
    if case .array(let elements) = self { return elements }
    return nil
  }

  /// The message of an error reply; `nil` otherwise.
  public var errorMessage: String? {
    if case .error(let message) = self { return message }
    return nil
  }

  /// Whether this is the nil bulk string or nil array.
  public var isNull: Bool { self == .null }
}

extension RESPValue: ExpressibleByStringLiteral {
  /// A bulk string holding the literal's UTF-8 bytes (handy in tests and comparisons).
  public init(stringLiteral value: String) {
    self = .bulkString(Array(value.utf8))
  }
}

extension RESPValue: CustomStringConvertible {
  /// A short, redis-cli-like rendering; long bulk strings are abbreviated.
  public var description: String {
    switch self {
    case .simpleString(let text): return text
    case .error(let message): return "(error) \(message)"
    case .integer(let value): return "(integer) \(value)"
    case .null: return "(nil)"
    case .bulkString(let bytes):
      let shown = bytes.prefix(64)
      let text = String(validating: shown, as: UTF8.self).map { "\"\($0)\"" } ?? "<binary>"
      return bytes.count > shown.count ? "\(text)… (\(bytes.count) bytes)" : text
    case .array(let elements):
      return "[" + elements.map(\.description).joined(separator: ", ") + "]"
    }
  }
}
