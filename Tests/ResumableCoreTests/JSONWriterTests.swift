import Foundation
import ResumableCore
import ResumableTestSupport
import Testing

/// `JSONWriter` writes what `JSONEncoder` writes, byte for byte.
@Suite("JSON writer")
struct JSONWriterTests {
  static func encoder(escapingSlashes: Bool = false) -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = escapingSlashes ? [.sortedKeys] : [.sortedKeys, .withoutEscapingSlashes]
    return encoder
  }

  static let numbers: [Double] = [
    0, -0.0, 1, -1, 0.25, 0.1, 0.30000000000000004, 123456.789, 1e15, -1e15, 999_999_999_999_999, 1e16, 1e21,
    1.5e300, 1e-7, 2.5e-5, 9_007_199_254_740_994, 1_764_612_345_678, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
  ]

  static let strings = ["", "plain", "quote \" and \\ backslash", "a/b", "tab\tnew\nline\r", "\u{1}\u{1f}\u{7f}", "é ü 漢字 🎉", "\u{2028}\u{2029}"]

  @Test func numbersAndStringsAreJSONEncoders() throws {
    for number in Self.numbers {
      #expect(JSONValue.number(number).serialized() == Array(try Self.encoder().encode(number)), "\(number)")
    }
    for text in Self.strings {
      #expect(JSONValue.string(text).serialized() == Array(try Self.encoder().encode(text)), "\(text)")
      var escaped: [UInt8] = []
      JSONWriter.write(text, escapingSlashes: true, into: &escaped)
      #expect(escaped == Array(try Self.encoder(escapingSlashes: true).encode(text)), "\(text)")
    }
    #expect(JSONValue.number(.infinity).serialized() == Array("null".utf8))
  }

  @Test func randomDocumentsAreJSONEncoders() throws {
    var random = SplitMix64(seed: 42)
    func value(depth: Int) -> JSONValue {
      switch random.next() % (depth > 3 ? 4 : 6) {
      case 0: return .null
      case 1: return .bool(random.next() % 2 == 0)
      case 2: return .number(Self.numbers[Int(random.next() % UInt64(Self.numbers.count))] * (random.next() % 2 == 0 ? 1 : -3))
      case 3: return .string(Self.strings[Int(random.next() % UInt64(Self.strings.count))])
      case 4: return .array((0..<Int(random.next() % 4)).map { _ in value(depth: depth + 1) })
      default:
        var members: [String: JSONValue] = [:]
        for index in 0..<Int(random.next() % 5) { members["k\(random.next() % 20)\(index)"] = value(depth: depth + 1) }
        return .object(members)
      }
    }
    for _ in 0..<500 {
      let document = value(depth: 0)
      #expect(document.serialized() == Array(try Self.encoder().encode(document)), "\(document)")
    }
  }
}
