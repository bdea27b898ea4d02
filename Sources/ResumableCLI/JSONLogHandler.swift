import Foundation
import Logging

/// `--log-format json`: one JSON object per line on standard error, with
/// `timestamp` (ISO 8601, UTC, milliseconds), `level`, `label`, `message`,
/// and every metadata key (`workflow_id`, `step`, `attempt`, …) beside them.
/// A metadata key named like one of the four fixed keys is dropped.
struct JSONLogHandler: LineLogHandler {
  var logLevel: Logger.Level
  var metadata: Logger.Metadata = [:]
  private let label: String

  init(label: String, level: Logger.Level) {
    self.label = label
    self.logLevel = level
  }

  func log(event: LogEvent) {
    let merged = merged(event)
    var line = "{"
    line += "\"timestamp\":" + Self.quoted(Self.timestamp()) + ","
    line += "\"level\":" + Self.quoted(event.level.rawValue) + ","
    line += "\"label\":" + Self.quoted(label) + ","
    line += "\"message\":" + Self.quoted("\(event.message)")
    for key in merged.keys.sorted() where !["timestamp", "level", "label", "message"].contains(key) {
      line += "," + Self.quoted(key) + ":" + Self.json(merged[key]!)
    }
    line += "}\n"
    FileHandle.standardError.write(Data(line.utf8))
  }

  private static func json(_ value: Logger.Metadata.Value) -> String {
    switch value {
    case .string(let string): quoted(string)
    case .stringConvertible(let convertible): quoted(convertible.description)
    case .array(let array): "[" + array.map(json).joined(separator: ",") + "]"
    case .dictionary(let dictionary):
      "{" + dictionary.keys.sorted().map { quoted($0) + ":" + json(dictionary[$0]!) }.joined(separator: ",") + "}"
    }
  }

  /// `text` as a JSON string literal.
  static func quoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
          + String(scalar.value, radix: 16)
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }

  private static func timestamp() -> String {
    Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
  }
}
