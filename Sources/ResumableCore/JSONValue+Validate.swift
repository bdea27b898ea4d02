extension JSONValue {
  /// Checks that `bytes` are JSON that `init(parsing:)` accepts, without
  /// building the value: what a plugin's artifact and a run's input are
  /// checked with on every step and every start.
  ///
  /// Plain documents (no exponent, at most 15 digits per number, no `\u`
  /// escape, valid UTF-8, nesting at most 64 deep) are checked by a scan that
  /// allocates nothing; anything else is parsed, so what is accepted, and the
  /// message of what is refused, are exactly `init(parsing:)`'s.
  /// - Throws: `ParseError`, as `init(parsing:)` does.
  public static func validate(_ bytes: [UInt8]) throws(ParseError) {
    let plain = bytes.withUnsafeBufferPointer { buffer in
      var scan = PlainJSONScan(bytes: buffer)
      return scan.isPlainDocument()
    }
    if !plain { _ = try JSONValue(parsing: bytes) }
  }
}

/// A scan of JSON text that answers "certainly valid" only for documents in
/// a plain subset of JSON; false means "not sure": ask the parser.
private struct PlainJSONScan {
  let bytes: UnsafeBufferPointer<UInt8>
  var index = 0

  init(bytes: UnsafeBufferPointer<UInt8>) {
    self.bytes = bytes
  }

  static let maximumDepth = 64

  mutating func isPlainDocument() -> Bool {
    skipWhitespace()
    guard value(depth: 0) else { return false }
    skipWhitespace()
    return index == bytes.count
  }

  private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

  private mutating func skipWhitespace() {
    while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
  }

  private mutating func value(depth: Int) -> Bool {
    guard let byte = current else { return false }
    switch byte {
    case UInt8(ascii: "{"): return depth < Self.maximumDepth && container(depth: depth + 1, object: true)
    case UInt8(ascii: "["): return depth < Self.maximumDepth && container(depth: depth + 1, object: false)
    case UInt8(ascii: "\""): return string()
    case UInt8(ascii: "t"): return literal("true")
    case UInt8(ascii: "f"): return literal("false")
    case UInt8(ascii: "n"): return literal("null")
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
    default: return false
    }
  }

  /// An object's members (`object`) or an array's elements, through the closing bracket.
  private mutating func container(depth: Int, object: Bool) -> Bool {
    let closing = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
    index += 1  // { or [
    skipWhitespace()
    if current == closing {
      index += 1
      return true
    }
    while true {
      if object {
        guard current == UInt8(ascii: "\""), string() else { return false }
        skipWhitespace()
        guard current == UInt8(ascii: ":") else { return false }
        index += 1
        skipWhitespace()
      }
      guard value(depth: depth) else { return false }
      skipWhitespace()
      switch current {
      case UInt8(ascii: ","):
        index += 1
        skipWhitespace()
      case closing:
        index += 1
        return true
      default:
        return false
      }
    }
  }

  private mutating func literal(_ word: StaticString) -> Bool {
    let count = word.utf8CodeUnitCount
    guard bytes.count - index >= count else { return false }
    for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
    index += count
    return true
  }

  /// An integer or a decimal fraction, at most 15 digits (exact as a Double), no exponent.
  private mutating func number() -> Bool {
    if current == UInt8(ascii: "-") { index += 1 }
    var digits = 0
    guard let first = current, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { return false }
    if first == UInt8(ascii: "0") {
      index += 1
      digits = 1
    } else {
      digits += skipDigits()
    }
    if current == UInt8(ascii: ".") {
      index += 1
      let fraction = skipDigits()
      guard fraction > 0 else { return false }
      digits += fraction
    }
    if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") { return false }
    return digits <= 15
  }

  private mutating func skipDigits() -> Int {
    let start = index
    while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
    return index - start
  }

  /// A string with no `\u` escape and no control character, in valid UTF-8.
  private mutating func string() -> Bool {
    index += 1  // "
    while let byte = current {
      switch byte {
      case UInt8(ascii: "\""):
        index += 1
        return true
      case UInt8(ascii: "\\"):
        index += 1
        guard let escaped = current else { return false }
        switch escaped {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
          UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
          index += 1
        default:
          return false
        }
      case 0..<0x20:
        return false
      case 0x20..<0x80:
        index += 1
      default:
        guard utf8Sequence() else { return false }
      }
    }
    return false
  }

  /// One multi-byte UTF-8 sequence: no overlong form, no surrogate, nothing past U+10FFFF.
  private mutating func utf8Sequence() -> Bool {
    let lead = bytes[index]
    let length: Int
    var low: UInt8 = 0x80
    var high: UInt8 = 0xBF
    switch lead {
    case 0xC2...0xDF: length = 2
    case 0xE0: length = 3; low = 0xA0
    case 0xE1...0xEC, 0xEE...0xEF: length = 3
    case 0xED: length = 3; high = 0x9F
    case 0xF0: length = 4; low = 0x90
    case 0xF1...0xF3: length = 4
    case 0xF4: length = 4; high = 0x8F
    default: return false
    }
    guard bytes.count - index >= length else { return false }
    let second = bytes[index + 1]
    guard second >= low, second <= high else { return false }
    for offset in 2..<length where bytes[index + offset] & 0xC0 != 0x80 { return false }
    index += length
    return true
  }
}
