import ArgumentParser
import ResumableClient
import ResumableWire

/// `resumable list`: runs, newest first, a page at a time.
struct List: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List runs, newest first.",
    discussion: "Prints a page of runs; when there are more, the command for the next page.")

  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var output: OutputOptions

  /// `--status`: a run status in lower case.
  enum Status: String, ExpressibleByArgument, CaseIterable {
    case running, completed, failed, cancelled
    case awaitingApproval = "awaiting-approval"
    case awaitingBudget = "awaiting-budget"

    var wire: RunStatus {
      switch self {
      case .running: .running
      case .completed: .completed
      case .failed: .failed
      case .cancelled: .cancelled
      case .awaitingApproval: .awaitingApproval
      case .awaitingBudget: .awaitingBudget
      }
    }
  }

  @Option(help: "Only runs with this status: running, completed, failed, cancelled, awaiting-approval or awaiting-budget.")
  var status: Status?

  @Option(help: "Only runs of this workflow.")
  var workflow: String?

  @Option(help: ArgumentHelp("At most this many runs (1 to 1000).", valueName: "n"))
  var limit: Int = 50

  @Option(help: "Continue from where the previous page ended.")
  var cursor: String?

  func validate() throws {
    guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
  }

  func run() async throws {
    let request = ListWorkflowsRequest(
      status: status?.wire ?? .unspecified, workflow: workflow ?? "", pageSize: UInt32(limit), cursor: cursor ?? "")
    let page = try await connection.call { client, timeout throws(ResumableClientError) in
      try await client.listWorkflows(request, timeout: timeout)
    }
    print(output.json ? RunListRendering.json(page) : RunListRendering.text(page))
  }
}

/// `resumable cancel ID`: stops a run for good.
struct Cancel: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Cancel a run: its step in flight is stopped, and it cannot be resumed.",
    discussion: "Prints the cancelled run's state. Cancelling a completed run is an error (exit 1).")

  @OptionGroup var target: RunIDArgument
  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var output: OutputOptions

  @Option(help: "Why: recorded as the run's error.")
  var reason: String?

  func run() async throws {
    let request = CancelWorkflowRequest(workflowID: target.id, reason: reason ?? "")
    let state = try await connection.call { client, timeout throws(ResumableClientError) in
      try await client.cancelWorkflow(request, timeout: timeout).state
    }
    print(output.json ? RunStateRendering.json(state, includeArtifacts: false) : RunStateRendering.text(state, includeArtifacts: false))
  }
}

/// `resumable health`: whether the server serves; exit 0 only then (a container health check).
struct Health: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check the server: version, Redis reachability and latency, runs in flight, uptime.",
    discussion: "Exits 0 only when the server is SERVING (Redis reachable, not shutting down): usable as a health check.")

  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var output: OutputOptions

  func run() async throws {
    let health = try await connection.call { client, timeout throws(ResumableClientError) in
      try await client.health(timeout: timeout)
    }
    print(output.json ? RunListRendering.json(health) : RunListRendering.text(health))
    if health.status != "SERVING" { throw ExitCode(ResumableExitCode.failure) }
  }
}
