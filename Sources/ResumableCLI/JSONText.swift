import Foundation

/// JSON text of the objects the renderings build (strings, numbers, booleans, `NSNull`,
/// arrays and dictionaries of them), in one place so that no value a server sends can make
/// rendering trap.
enum JSONText {
  /// `object` as JSON text, keys sorted, slashes unescaped.
  ///
  /// A non-finite number (NaN or an infinity), which JSON cannot express, is rendered as
  /// `null`, wherever it is nested.
  /// - Parameters:
  ///   - object: The value to render.
  ///   - pretty: Whether to indent (the `--json` output) or print one line (a watch's events).
  static func render(_ object: [String: Any], pretty: Bool) -> String {
    var options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
    if pretty { options.insert(.prettyPrinted) }
    // With every number finite, JSONSerialization has nothing left to refuse; should it
    // refuse anyway, `null` is still a JSON text.
    guard let data = try? JSONSerialization.data(withJSONObject: finite(object), options: options) else {
      return "null"
    }
    return String(decoding: data, as: UTF8.self)
  }

  /// `value` with every non-finite `Double` or `Float` replaced by `NSNull`.
  static func finite(_ value: Any) -> Any {
    switch value {
    case let number as Double: number.isFinite ? number : NSNull()
    case let number as Float: number.isFinite ? number : NSNull()
    case let object as [String: Any]: object.mapValues(finite)
    case let array as [Any]: array.map(finite)
    default: value
    }
  }
}
