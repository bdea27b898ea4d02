import Foundation
import ResumableClient
import ResumableWire

/// Shows a watched run on standard output as its frames arrive, in one of three styles:
/// `live` redraws a block of lines in place (a line per step; ANSI escapes, for a terminal),
/// `plain` prints a line per event (piped output), `json` prints a JSON object per line.
///
/// Every style opens with the run's state and closes with its final state: `live` and `plain`
/// end with the same text as `resumable state`, `json` with an object of type `end`.
struct ProgressDisplay {
  enum Style {
    case live, plain, json
  }

  /// Whether standard output is a terminal (the `live` style's condition).
  static var standardOutputIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

  let style: Style
  private(set) var progress: WatchProgress?
  /// How many lines the `live` block has on screen now.
  private var drawnLines = 0

  init(style: Style) {
    self.style = style
  }

  /// The watch opened with `state`.
  mutating func opened(_ state: RunState) {
    progress = WatchProgress(state: state)
    switch style {
    case .live: redraw()
    case .plain: write(progress?.title ?? "")
    case .json: write(WatchProgress.stateJSON(state, type: "state"))
    }
  }

  /// An event arrived.
  mutating func show(_ event: RunEvent) {
    progress?.apply(event)
    switch style {
    case .live: redraw()
    case .plain: write(WatchProgress.eventLine(event))
    case .json: write(WatchProgress.eventJSON(event))
    }
  }

  /// The watch ended with `state`.
  mutating func ended(_ state: RunState) {
    progress?.finish(with: state)
    switch style {
    case .live:
      erase()
      write(RunStateRendering.text(state, includeArtifacts: false))
    case .plain:
      write("")
      write(RunStateRendering.text(state, includeArtifacts: false))
    case .json: write(WatchProgress.stateJSON(state, type: "end"))
    }
  }

  /// Leaves the screen as it is, e.g. before an error message.
  mutating func abandon() {
    drawnLines = 0
  }

  private mutating func redraw() {
    guard let progress else { return }
    let width = Self.terminalColumns()
    let lines = progress.lines()
    var text = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
    // Back to the start of the block, clear it to the end of the screen, draw it anew. Lines
    // are cut to the terminal's width, so none wraps and the count of lines to go back is right.
    text += "\r\u{1B}[J"
    for line in lines { text += String(line.prefix(max(1, width - 1))) + "\n" }
    drawnLines = lines.count
    FileHandle.standardOutput.write(Data(text.utf8))
  }

  private mutating func erase() {
    guard drawnLines > 0 else { return }
    FileHandle.standardOutput.write(Data("\u{1B}[\(drawnLines)A\r\u{1B}[J".utf8))
    drawnLines = 0
  }

  private func write(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
  }

  /// The terminal's width in columns (80 when it cannot be read).
  private static func terminalColumns() -> Int {
    var size = winsize()
    guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
    return Int(size.ws_col)
  }
}
