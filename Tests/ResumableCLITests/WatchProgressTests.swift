import ResumableCLI
import ResumableWire
import Testing

/// The watch display's model and text, without a terminal.
@Suite("WatchProgress")
struct WatchProgressTests {
  static let state = RunState(
    workflowID: "p-1", workflow: "research", status: .running, currentStep: "search",
    steps: [
      StepRecord(name: "search", status: .running, attempts: 1),
      StepRecord(name: "extract", status: .pending),
    ])

  @Test func eventsUpdateTheStepLines() {
    var progress = WatchProgress(state: Self.state)
    #expect(progress.lines() == [
      "Run p-1 of workflow research: RUNNING at step search (1 of 2)",
      "  search   RUNNING  attempt 1",
      "  extract  PENDING",
    ])
    progress.apply(
      RunEvent(
        type: "attempt_failed", step: "search", attempt: 1, atMs: 1_000, message: "boom", nextAttemptAtMs: 2_500,
        status: .running))
    #expect(progress.state.steps[0].status == .retrying)
    #expect(progress.lines()[1] == "  search   RETRYING  attempt 1 failed: boom; next attempt at 1970-01-01T00:00:02.500Z")
    progress.apply(RunEvent(type: "attempt_started", step: "search", attempt: 2, atMs: 2_500, status: .running))
    progress.apply(RunEvent(type: "step_committed", step: "search", attempt: 2, atMs: 2_600, status: .running))
    // The commit begins the next step's first attempt.
    #expect(progress.state.steps.map(\.status) == [.completed, .running])
    #expect(progress.lines() == [
      "Run p-1 of workflow research: RUNNING at step extract (2 of 2)",
      "  search   COMPLETED  2 attempts",
      "  extract  RUNNING    attempt 1",
      "Last: 1970-01-01T00:00:02.600Z step_committed search (attempt 2) -> RUNNING",
    ])
    progress.apply(RunEvent(type: "step_committed", step: "extract", attempt: 1, atMs: 2_700, status: .completed))
    #expect(progress.state.status == .completed)
    #expect(progress.lines()[0] == "Run p-1 of workflow research: COMPLETED")
  }

  @Test func unknownEventsAreShownAsTheyAre() {
    var progress = WatchProgress(state: Self.state)
    let event = RunEvent(type: "something_new", step: "extract", atMs: 5, message: "hello")
    progress.apply(event)
    #expect(progress.state.steps[1].status == .pending)
    #expect(progress.lines()[2] == "  extract  PENDING  hello")
    #expect(WatchProgress.eventLine(event) == "1970-01-01T00:00:00.005Z something_new extract: hello")
    #expect(WatchProgress.eventLine(RunEvent()) == "- event")
  }

  @Test func eventsAsJSON() {
    let json = WatchProgress.eventJSON(
      RunEvent(type: "attempt_failed", step: "s", attempt: 2, atMs: 1_000, message: "x", nextAttemptAtMs: 2_000))
    #expect(
      json
        == #"{"at":"1970-01-01T00:00:01.000Z","at_ms":1000,"attempt":2,"message":"x","next_attempt_at":"1970-01-01T00:00:02.000Z","status":null,"step":"s","type":"attempt_failed"}"#
    )
    let state = WatchProgress.stateJSON(Self.state, type: "state")
    #expect(state.hasPrefix(#"{"state":{"#) && state.hasSuffix(#""type":"state"}"#) && !state.contains("\n"))
  }
}
