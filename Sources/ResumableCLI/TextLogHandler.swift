import Foundation
import Logging

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// `--log-format text` (the default): swift-log's stream handler's lines on
/// standard error (`TIMESTAMP LEVEL LABEL: key=value … [SOURCE] message`), with
/// the metadata rendered when a line is written rather than whenever it is set.
///
/// The engine labels its logger with each step and attempt it drives, thousands
/// of times a second, and logs a line now and then: swift-log's `StreamLogHandler`
/// renders its metadata at every label (about 4% of the server's CPU on no-op
/// steps), this handler only at a line.
struct TextLogHandler: LineLogHandler {
  var logLevel: Logger.Level
  var metadata: Logger.Metadata = [:]
  let label: String

  init(label: String, level: Logger.Level) {
    self.label = label
    self.logLevel = level
  }

  func log(event: LogEvent) {
    FileHandle.standardError.write(Data(line(event, at: Self.timestamp()).utf8))
  }

  /// The line `event` is written as, at `timestamp`.
  func line(_ event: LogEvent, at timestamp: String) -> String {
    let rendered = merged(event).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    return "\(timestamp) \(event.level)\(label.isEmpty ? "" : " ")\(label):\(rendered.isEmpty ? "" : " " + rendered) "
      + "[\(event.source)] \(event.message)\n"
  }

  /// Local time to the second with its offset, e.g. `2026-12-07T06:10:39+0000`.
  private static func timestamp() -> String {
    var now = time(nil)
    var local = tm()
    guard localtime_r(&now, &local) != nil else { return "<unknown>" }
    var buffer = [CChar](repeating: 0, count: 64)
    let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
    return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}

/// A handler that writes one line per event from the metadata it keeps (text or JSON).
protocol LineLogHandler: LogHandler {
  var metadata: Logger.Metadata { get set }
}

extension LineLogHandler {
  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  /// The handler's metadata, then the event's, then its error's (as swift-log's handler does).
  func merged(_ event: LogEvent) -> Logger.Metadata {
    var merged = metadata
    if let extra = event.metadata { merged.merge(extra) { _, new in new } }
    if let error = event.error {
      merged["error.message"] = "\(error)"
      merged["error.type"] = "\(String(reflecting: type(of: error)))"
    }
    return merged
  }
}
