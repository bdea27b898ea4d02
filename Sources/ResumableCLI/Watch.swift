import ArgumentParser
import ResumableClient
import ResumableWire

/// `resumable watch ID`: follows a run live until it ends.
struct Watch: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Follow a run as it goes, until it is COMPLETED, FAILED or CANCELLED.",
    discussion: """
      On a terminal, a line per step is updated in place; piped, a line per event is printed; \
      with --json, one JSON object per line: {"type":"state","state":{…}} first, then one per \
      event ({"type", "step", "attempt", "at", "at_ms", "message", "next_attempt_at", \
      "status"}), then {"type":"end","state":{…}}. Any server sharing the run's Redis shows \
      the run, whichever server drives it. Exits with the code of the run's final status.
      """
  )

  @OptionGroup var target: RunIDArgument
  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var output: OutputOptions

  func run() async throws {
    let style: ProgressDisplay.Style =
      output.json ? .json : ProgressDisplay.standardOutputIsTerminal ? .live : .plain
    try await connection.follow(style: style) { _, _ throws(ResumableClientError) in target.id }
  }
}

extension ConnectionOptions {
  /// Connects, makes a call that names a run (`call` returns its id; a watch alone returns it
  /// at once), then follows the run with a `ProgressDisplay` until it ends, and ends with the
  /// exit code of its final status; a failed call prints `error: CODE: message` and ends with
  /// the exit code of the error.
  /// - Parameters:
  ///   - style: How to show the run.
  ///   - stopAtApproval: End when the run awaits approval or budget too (`start`, `resume`: exit 4 or 6).
  ///   - call: The call, given the client and the call's timeout.
  func follow(
    style: ProgressDisplay.Style, stopAtApproval: Bool = false,
    _ call: (ResumableClient, Duration?) async throws(ResumableClientError) -> String
  ) async throws {
    let client = try await connect()
    let timeout = timeout.map { Duration.seconds($0) }
    var display = ProgressDisplay(style: style)
    let final: RunState
    do {
      let id = try await call(client, timeout)
      final = try await Self.follow(
        client, id: id, timeout: timeout, display: &display, stopAtApproval: stopAtApproval)
    } catch {
      display.abandon()
      await client.close()
      throw Self.report(error, connecting: false)
    }
    await client.close()
    display.ended(final)
    let code = ResumableExitCode.forRun(final.status, waited: true)
    if code != ResumableExitCode.success { throw ExitCode(code) }
  }

  private static func follow(
    _ client: ResumableClient, id: String, timeout: Duration?, display: inout ProgressDisplay,
    stopAtApproval: Bool
  ) async throws(ResumableClientError) -> RunState {
    var final: RunState?
    for try await response in client.watchWorkflow(WatchWorkflowRequest(workflowID: id), timeout: timeout) {
      if !response.event.type.isEmpty {
        display.show(response.event)
      } else if display.progress == nil {
        display.opened(response.state)
      } else {
        final = response.state
      }
      if stopAtApproval, final == nil, [.awaitingApproval, .awaitingBudget].contains(display.progress?.state.status) {
        return try await client.getState(GetStateRequest(workflowID: id), timeout: timeout).state
      }
    }
    guard let final = final ?? display.progress?.state else {
      throw ResumableClientError(code: .internal, message: "the watch of run \(id) ended without its state")
    }
    return final
  }
}
