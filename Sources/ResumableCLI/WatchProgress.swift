public import ResumableWire
import Foundation

/// What a watcher knows of a run: the state the watch opened with, brought up to date by each
/// event; and how the CLI shows it — a block of lines redrawn in place on a terminal
/// (``lines()``), a line per event when piped (``eventLine(_:)``), a JSON object per frame
/// with `--json` (``eventJSON(_:)``, ``stateJSON(_:type:)``).
///
/// Pure: no I/O, no clock. Unknown event types are shown as they are.
public struct WatchProgress: Sendable {
  /// The run as last known: the watch's state with the events applied since.
  public private(set) var state: RunState
  /// The last event applied.
  public private(set) var lastEvent: RunEvent?
  /// Per step: what the step line adds to its status (an attempt's error, a wait's reason).
  private var notes: [String: String] = [:]

  /// Starts from the state a watch opened with.
  public init(state: RunState) {
    self.state = state
    for step in state.steps {
      if let note = Self.note(error: step.lastError, next: step.nextAttemptAtMs, reason: step.waitReason),
        step.status == .retrying || step.status == .waiting || step.status == .failed
      {
        notes[step.name] = note
      }
    }
  }

  /// Takes the final state a watch ended with.
  public mutating func finish(with state: RunState) {
    self = WatchProgress(state: state)
  }

  /// Brings the state up to date with one event.
  public mutating func apply(_ event: RunEvent) {
    lastEvent = event
    if event.status != .unspecified { state.status = event.status }
    guard let index = state.steps.firstIndex(where: { $0.name == event.step }) else { return }
    var step = state.steps[index]
    if event.attempt > 0 { step.attempts = event.attempt }
    switch event.type {
    case "run_started", "attempt_started", "run_resumed", "run_rerun", "step_approved":
      // A re-run starts over from this step: those after it are pending again.
      for later in state.steps.indices.dropFirst(index + 1) where event.type == "run_rerun" {
        state.steps[later].status = .pending
        state.steps[later].attempts = 0
        notes[state.steps[later].name] = nil
      }
      step.status = .running
      notes[step.name] = nil
      state.currentStep = step.name
      state.currentStepIndex = UInt32(index)
    case "attempt_failed":
      step.status = .retrying
      notes[step.name] = Self.note(error: event.message, next: event.nextAttemptAtMs, reason: "")
    case "step_waiting":
      step.status = .waiting
      notes[step.name] = Self.note(error: "", next: event.nextAttemptAtMs, reason: event.message)
    case "step_committed":
      step.status = .completed
      notes[step.name] = nil
      // The commit begins the next step's first attempt in the same write.
      if event.status != .completed, index + 1 < state.steps.count, state.steps[index + 1].status == .pending {
        state.steps[index + 1].status = .running
        state.steps[index + 1].attempts = 1
        state.currentStep = state.steps[index + 1].name
        state.currentStepIndex = UInt32(index + 1)
      }
    case "run_failed", "step_rejected":
      step.status = .failed
      notes[step.name] = event.message.isEmpty ? event.type : event.message
      if !event.message.isEmpty { state.error = event.message }
    case "approval_requested":
      notes[step.name] = "awaiting approval" + (event.message.isEmpty ? "" : ": \(event.message)")
    default:
      if !event.message.isEmpty { notes[step.name] = event.message }
    }
    state.steps[index] = step
  }

  /// The run's line: id, workflow, status, and the step it is at while it goes on.
  public var title: String {
    var line = "Run \(state.workflowID) of workflow \(state.workflow): \(state.status.renderedName)"
    if !state.status.endsWatch, !state.currentStep.isEmpty {
      line += " at step \(state.currentStep) (\(Int(state.currentStepIndex) + 1) of \(state.steps.count))"
    }
    return line
  }

  /// The block a terminal shows and redraws in place: the run's line, a line per step (status,
  /// attempts, and why it waits or failed), and the last event.
  public func lines() -> [String] {
    var lines = [title]
    let nameWidth = state.steps.map(\.name.count).max() ?? 0
    let statusWidth = state.steps.map(\.status.renderedName.count).max() ?? 0
    for step in state.steps {
      var detail: String
      switch step.status {
      case .pending, .unspecified: detail = ""
      case .completed: detail = step.attempts == 1 ? "1 attempt" : "\(step.attempts) attempts"
      case .running: detail = "attempt \(step.attempts)"
      case .retrying, .failed: detail = "attempt \(step.attempts) failed"
      case .waiting: detail = "waiting"
      }
      if let note = notes[step.name] { detail += detail.isEmpty ? note : ": \(note)" }
      let line =
        "  " + step.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
        + step.status.renderedName.padding(toLength: statusWidth, withPad: " ", startingAt: 0) + "  " + detail
      lines.append(String(line[..<(line.lastIndex { $0 != " " }.map(line.index(after:)) ?? line.startIndex)]))
    }
    if let lastEvent { lines.append("Last: " + Self.eventLine(lastEvent)) }
    return lines
  }

  /// One event as a line of text: time, type, step, attempt, and its message, next attempt
  /// time and the run's status when it has them.
  public static func eventLine(_ event: RunEvent) -> String {
    var line = RunStateRendering.timestamp(unixMilliseconds: event.atMs) ?? "-"
    line += " \(event.type.isEmpty ? "event" : event.type)"
    if !event.step.isEmpty { line += " \(event.step)" }
    if event.attempt > 0 { line += " (attempt \(event.attempt))" }
    if !event.message.isEmpty { line += ": \(event.message)" }
    if let next = RunStateRendering.timestamp(unixMilliseconds: event.nextAttemptAtMs) {
      line += "; next attempt at \(next)"
    }
    if event.status != .unspecified { line += " -> \(event.status.renderedName)" }
    return line
  }

  /// One event as one line of JSON: `type`, `step`, `attempt`, `at` (RFC 3339), `at_ms`,
  /// `message`, `next_attempt_at`, `status` (`null` when not set).
  public static func eventJSON(_ event: RunEvent) -> String {
    compactJSON([
      "type": event.type,
      "step": event.step,
      "attempt": Int(event.attempt),
      "at": RunStateRendering.timestamp(unixMilliseconds: event.atMs) ?? NSNull(),
      "at_ms": event.atMs,
      "message": event.message.isEmpty ? NSNull() : event.message,
      "next_attempt_at": RunStateRendering.timestamp(unixMilliseconds: event.nextAttemptAtMs) ?? NSNull(),
      "status": event.status == .unspecified ? NSNull() : event.status.renderedName,
    ])
  }

  /// A state as one line of JSON: `{"type": type, "state": {…}}`, the state as
  /// ``RunStateRendering/json(_:includeArtifacts:)`` has it. A watch prints `state` first and
  /// `end` last.
  public static func stateJSON(_ state: RunState, type: String) -> String {
    let object = try? JSONSerialization.jsonObject(
      with: Data(RunStateRendering.json(state, includeArtifacts: false).utf8))
    return compactJSON(["type": type, "state": object ?? NSNull()])
  }

  private static func compactJSON(_ object: [String: Any]) -> String {
    JSONText.render(object, pretty: false)
  }

  private static func note(error: String, next: Int64, reason: String) -> String? {
    var parts: [String] = []
    if !reason.isEmpty { parts.append(reason) } else if !error.isEmpty { parts.append(error) }
    if let next = RunStateRendering.timestamp(unixMilliseconds: next) { parts.append("next attempt at \(next)") }
    return parts.isEmpty ? nil : parts.joined(separator: "; ")
  }
}

extension RunStatus {
  /// Whether a watch ends at this status: COMPLETED, FAILED, CANCELLED.
  var endsWatch: Bool { self == .completed || self == .failed || self == .cancelled }
}
