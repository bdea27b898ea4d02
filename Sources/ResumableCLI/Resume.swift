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

  func run() async throws {
    let request = ResumeWorkflowRequest(workflowID: target.id, noWait: noWait)
    if !noWait, !output.json, ProgressDisplay.standardOutputIsTerminal {
      // On a terminal: resume without waiting, then show the run's progress live (Watch.swift).
      try await connection.follow(style: .live, stopAtApproval: true) { client, timeout throws(ResumableClientError) in
        try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: target.id, noWait: true), timeout: timeout)
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
