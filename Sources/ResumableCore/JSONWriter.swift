/// Writes JSON text byte for byte as Foundation's `JSONEncoder` does with
/// `.sortedKeys` (and, unless asked, `.withoutEscapingSlashes`), without its
/// cost: no `Encoder` machinery, no `Data`, one output buffer.
///
/// Numbers are written as `Double.description` without a trailing `.0`
/// (`1`, `0.25`, `1e+16`), non-finite ones as `null`; strings escape `"`,
/// `\`, and control characters (`\n`, `\r`, `\t`, `\b`, `\f`, else
/// `\u00xx`), and leave other characters as UTF-8. `JSONWriterTests` checks
/// the bytes against `JSONEncoder` on random values.
public enum JSONWriter {
  /// Appends `value`: objects with their keys sorted, slashes not escaped.
  public static func write(_ value: JSONValue, into out: inout [UInt8]) {
    switch value {
    case .null: out.append(contentsOf: "null".utf8)
    case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
    case .number(let number): write(number, into: &out)
    case .string(let text): write(text, escapingSlashes: false, into: &out)
    case .array(let items):
      out.append(UInt8(ascii: "["))
      for (index, item) in items.enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        write(item, into: &out)
      }
      out.append(UInt8(ascii: "]"))
    case .object(let members):
      out.append(UInt8(ascii: "{"))
      for (index, key) in members.keys.sorted().enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        write(key, escapingSlashes: false, into: &out)
        out.append(UInt8(ascii: ":"))
        write(members[key]!, into: &out)
      }
      out.append(UInt8(ascii: "}"))
    }
  }

  /// Appends a number as `JSONEncoder` writes a `Double`.
  public static func write(_ number: Double, into out: inout [UInt8]) {
    guard number.isFinite else {
      out.append(contentsOf: "null".utf8)
      return
    }
    if number == number.rounded(), abs(number) < 1e15 {
      out.append(contentsOf: String(Int64(number)).utf8)
      if number == 0, number.sign == .minus { out.insert(UInt8(ascii: "-"), at: out.count - 1) }
      return
    }
    var text = number.description
    if text.hasSuffix(".0") { text.removeLast(2) }
    out.append(contentsOf: text.utf8)
  }

  /// Appends a JSON string; `escapingSlashes` writes `/` as `\/` (JSONEncoder's default).
  public static func write(_ text: String, escapingSlashes: Bool, into out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
      case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
      case UInt8(ascii: "/") where escapingSlashes: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "/")])
      case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
      case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
      case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
      case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
      case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
      case 0..<0x20:
        out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
        out.append(hexDigits[Int(byte >> 4)])
        out.append(hexDigits[Int(byte & 0xF)])
      default: out.append(byte)
      }
    }
    out.append(UInt8(ascii: "\""))
  }

  private static let hexDigits = Array("0123456789abcdef".utf8)
}
