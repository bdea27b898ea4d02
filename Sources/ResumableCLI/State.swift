import ArgumentParser
import ResumableClient
import ResumableWire

/// `resumable state ID`: prints a run's state.
struct State: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show a run's state: its steps, costs and errors.",
    discussion: """
      Exits with the code of the run's status (0 for COMPLETED or RUNNING).
      """
  )

  @OptionGroup var target: RunIDArgument
  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var output: OutputOptions

  @Flag(help: "Also print each committed step's artifact (complete with --json).")
  var artifacts = false

  func run() async throws {
    let request = GetStateRequest(workflowID: target.id, includeArtifacts: artifacts)
    try await connection.callForRunState(
      output: output, includeArtifacts: artifacts, waited: false
    ) { client, timeout throws(ResumableClientError) in
      try await client.getState(request, timeout: timeout).state
    }
  }
}
