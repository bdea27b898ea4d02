import Logging
import Synchronization
import Testing

@testable import ResumableCLI

/// The server's text log lines are swift-log's stream handler's, metadata rendered only when written.
@Suite("Text log lines")
struct TextLogHandlerTests {
  /// What swift-log's `StreamLogHandler` writes, kept.
  final class Lines: TextOutputStream, Sendable {
    let lines = Mutex<[String]>([])
    func write(_ string: String) { lines.withLock { $0.append(string) } }
  }

  struct Failure: Error, CustomStringConvertible {
    var description: String { "the disk is full" }
  }

  /// The same events, labelled and logged alike, give the same lines as swift-log's
  /// handler but for the timestamp that begins them.
  @Test func linesAreTheStreamHandlersLines() {
    let events = [
      LogEvent(level: .warning, message: "lease lost", metadata: nil, source: "ResumableCore", file: "", function: "", line: 0),
      LogEvent(
        level: .error, message: "write failed", metadata: ["step": "two", "extra": "1"], source: "ResumableCore",
        file: "", function: "", line: 0),
      LogEvent(
        level: .info, message: "stopped", error: Failure(), metadata: nil, source: "ResumableServer", file: "",
        function: "", line: 0),
    ]
    for label in ["resumable", ""] {
      let kept = Lines()
      var stream = StreamLogHandler(label: label, stream: kept, metadataProvider: nil)
      var text = TextLogHandler(label: label, level: .trace)
      for (key, value) in [("workflow_id", "run-1"), ("step", "one")] {
        stream[metadataKey: key] = .string(value)
        text[metadataKey: key] = .string(value)
      }
      for event in events {
        stream.log(event: event)
        let written = kept.lines.withLock { $0.removeLast() }
        let timestamp = String(written.prefix { $0 != " " })
        #expect(text.line(event, at: timestamp) == written)
      }
    }
  }

  @Test func noMetadataLeavesNoGap() {
    let event = LogEvent(level: .notice, message: "ready", metadata: nil, source: "S", file: "", function: "", line: 0)
    #expect(TextLogHandler(label: "r", level: .info).line(event, at: "T") == "T notice r: [S] ready\n")
  }
}
