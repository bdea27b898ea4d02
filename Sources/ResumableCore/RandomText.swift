/// Random identifiers, drawn from the system's generator one 64-bit word
/// (one `getrandom`) per 8 bytes, not one call per byte: they are drawn for
/// every task (`hex`) and every run started without an id (`uuid`).
enum RandomText {
  private static let digits = Array("0123456789abcdef".utf8)

  /// `bytes` random bytes as lowercase hex.
  static func hex(bytes: Int) -> String {
    var text: [UInt8] = []
    text.reserveCapacity(bytes * 2)
    var generator = SystemRandomNumberGenerator()
    var word: UInt64 = 0
    for index in 0..<bytes {
      if index % 8 == 0 { word = generator.next() }
      append(UInt8(truncatingIfNeeded: word), to: &text)
      word >>= 8
    }
    return String(decoding: text, as: UTF8.self)
  }

  /// A random (version 4) UUID in lowercase, `8-4-4-4-12` hex digits, as
  /// `UUID().uuidString.lowercased()` writes one.
  static func uuid() -> String {
    var generator = SystemRandomNumberGenerator()
    var bytes = withUnsafeBytes(of: (generator.next() as UInt64, generator.next() as UInt64)) { Array($0) }
    bytes[6] = bytes[6] & 0x0F | 0x40  // version 4
    bytes[8] = bytes[8] & 0x3F | 0x80  // variant 10
    var text: [UInt8] = []
    text.reserveCapacity(36)
    for (index, byte) in bytes.enumerated() {
      if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
      append(byte, to: &text)
    }
    return String(decoding: text, as: UTF8.self)
  }

  private static func append(_ byte: UInt8, to text: inout [UInt8]) {
    text.append(digits[Int(byte >> 4)])
    text.append(digits[Int(byte & 0xF)])
  }
}
