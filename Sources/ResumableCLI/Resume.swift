import ArgumentParser
import ResumableClient
import ResumableWire

/// `resumable resume ID`: continues a run from its first step not committed.
struct Resume: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Resume a run from its first step not committed.",
    discussion: """
      Committed steps never run again. Waits for the run to end unless --no-wait is given (on a \
      terminal, showing its progress live), prints its state, and exits with the code of its status.
      """
  )

  @OptionGroup var target: RunIDArgument
  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var output: OutputOptions

  @Flag(help: "Return at once, with the run RUNNING, instead of waiting for it to end.")
  var noWait = false

  @Option(
    name: .customLong("from-step"),
    help: ArgumentHelp(
      "Run a COMPLETED or FAILED run again from this step: the artifacts of the steps before it are kept, "
        + "its own and the later ones discarded. Recorded in the run's events.",
      valueName: "step"))
  var fromStep: String?

  func run() async throws {
    let request = ResumeWorkflowRequest(workflowID: target.id, noWait: noWait, fromStep: fromStep ?? "")
    if !noWait, !output.json, ProgressDisplay.standardOutputIsTerminal {
      // On a terminal: resume without waiting, then show the run's progress live (Watch.swift).
      try await connection.follow(style: .live, stopAtApproval: true) { client, timeout throws(ResumableClientError) in
        var started = request
        started.noWait = true
        return try await client.resumeWorkflow(started, timeout: timeout)
          .state.workflowID
      }
      return
    }
    try await connection.callForRunState(output: output, waited: !noWait) {
      client, timeout throws(ResumableClientError) in
      try await client.resumeWorkflow(request, timeout: timeout).state
    }
  }
}
