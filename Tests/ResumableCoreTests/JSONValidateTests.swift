import ResumableCore
import Testing

/// `JSONValue.validate` accepts exactly what `JSONValue(parsing:)` accepts:
/// its fast scan only ever says "certainly valid", and leaves everything
/// else to the parser.
@Suite("JSON validation")
struct JSONValidateTests {
  static let documents = [
    "{}", "[]", "null", "true", "false", "0", "-0", "3", "-12.5", "0.25", "\"\"", "\"text\"",
    #"{"a": [1, 2.5, -3, {"b": null}], "c": "x\ny\"z\\/", "d": true}"#, " \t\r\n[ ] \n",
    #"{"a":1,"a":2}"#, "\"héllo — 日本 🎉\"", "123456789012345", "1234567890123456", "1e3", "1E-2", "2.5e+10",
    "1e400", "\"\\u00e9\"", "\"\\ud800\"", "[1,]", "{\"a\":1,}", "01", "-", "1.", ".5", "+1", "", " ", "nul",
    "tru", "[", "]", "{", "{\"a\"}", "{\"a\":}", "{a:1}", "[1 2]", "\"unterminated", "\"tab\there\"", "\"\\x\"",
    "[] []", "{}x", "\u{7f}", "NaN", "Infinity", String(repeating: "[", count: 70) + String(repeating: "]", count: 70),
    String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
  ]

  static let invalidUTF8: [[UInt8]] = [
    [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],
    [0x22, 0xE2, 0x82, 0x22], [0x22, 0x80, 0x22], [0x22, 0xFF, 0x22], [0x22, 0xE2, 0x82, 0xAC, 0x22],
  ]

  @Test(arguments: documents.map { Array($0.utf8) } + invalidUTF8)
  func acceptsWhatTheParserAccepts(_ bytes: [UInt8]) {
    let parsed = Result { () throws(JSONValue.ParseError) in try JSONValue(parsing: bytes) }
    let checked = Result { () throws(JSONValue.ParseError) in try JSONValue.validate(bytes) }
    switch (parsed, checked) {
    case (.success, .success): break
    case (.failure(let parseError), .failure(let checkError)): #expect(parseError == checkError)
    default: Issue.record("parser \(parsed), validate \(checked) for \(String(decoding: bytes, as: UTF8.self))")
    }
  }

  /// Every prefix of a document with every construct the scan knows: each is
  /// judged as the parser judges it.
  @Test func everyPrefixOfADocumentIsJudgedAsTheParserJudgesIt() {
    let document = Array(#" {"k": [true, false, null, -0.5, 12, "s\"\\\/\b\f\n\r\t é"], "o": {}} "#.utf8)
    for end in 0...document.count {
      let bytes = Array(document[..<end])
      let parses = (try? JSONValue(parsing: bytes)) != nil
      let validates = (try? JSONValue.validate(bytes)) != nil
      #expect(parses == validates, "\(String(decoding: bytes, as: UTF8.self))")
    }
  }
}
