import ArgumentParser
import Foundation
import ResumableClient
import ResumableCore
import ResumableWire

/// `--socket`: the server's Unix socket, where `serve` listens and every client command
/// connects; one option, one default, one check for both.
struct SocketOption: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "The server's Unix socket (default: $RESUMABLE_SOCKET, else "
        + "\(ResumableClient.defaultSocketPath)).",
      valueName: "path"))
  var socket: String?

  func validate() throws {
    if socket?.isEmpty == true {
      throw ValidationError("--socket cannot be empty")
    }
  }

  /// `--socket`, else `RESUMABLE_SOCKET`, else the default path.
  var path: String {
    if let socket { return socket }
    if let fromEnvironment = ProcessInfo.processInfo.environment["RESUMABLE_SOCKET"],
      !fromEnvironment.isEmpty
    {
      return fromEnvironment
    }
    return ResumableClient.defaultSocketPath
  }
}

/// Where the server is and how long to wait for it; shared by every client command.
struct ConnectionOptions: ParsableArguments {
  @OptionGroup var socket: SocketOption

  @Option(
    help: ArgumentHelp(
      "Stop waiting for the answer after this many seconds (the run itself goes on).",
      valueName: "seconds"))
  var timeout: Double?

  @Option(
    name: .customLong("trust-server-uid"),
    help: ArgumentHelp(
      "Also talk to a server running as this user id (by default only one running as you or "
        + "as root; the check uses the socket's peer credentials).",
      valueName: "uid"))
  var trustServerUID: UInt32?

  func validate() throws {
    if let timeout, !(timeout > 0 && timeout.isFinite) {
      throw ValidationError("--timeout must be a positive number of seconds, not \(timeout)")
    }
  }

  /// `--socket`, else `RESUMABLE_SOCKET`, else the default path.
  var socketPath: String { socket.path }

  /// Connects, makes one call that returns a run's state, prints the state, and ends with the
  /// exit code of its status; a failed call prints `error: CODE: message` to standard error and
  /// ends with the exit code of the error.
  /// - Parameters:
  ///   - output: Text or JSON.
  ///   - includeArtifacts: Whether to print the artifacts the state carries.
  ///   - waited: Whether the call waits for the run to end (a RUNNING answer is then an error).
  ///   - call: The call, given the client and the call's timeout.
  func callForRunState(
    output: OutputOptions, includeArtifacts: Bool = false, waited: Bool,
    _ call: (ResumableClient, Duration?) async throws(ResumableClientError) -> RunState
  ) async throws {
    let state = try await self.call(call)
    print(
      output.json
        ? RunStateRendering.json(state, includeArtifacts: includeArtifacts)
        : RunStateRendering.text(state, includeArtifacts: includeArtifacts))
    let code = ResumableExitCode.forRun(state.status, waited: waited)
    switch state.status {
    case .running where code != ResumableExitCode.success:
      printToStandardError(
        "error: the server answered while the run was still RUNNING; follow it with "
          + "`resumable state \(state.workflowID)`")
    case .unspecified:
      printToStandardError("error: the server answered with a run status this client does not know")
    default:
      break
    }
    if code != ResumableExitCode.success {
      throw ExitCode(code)
    }
  }

  /// Connects, makes one call and returns its answer; a failure prints `error: CODE:
  /// message` to standard error and ends with the exit code of the error.
  func call<Answer>(_ call: (ResumableClient, Duration?) async throws(ResumableClientError) -> Answer) async throws -> Answer {
    let client = try await connect()
    do {
      let answer = try await call(client, timeout.map { Duration.seconds($0) })
      await client.close()
      return answer
    } catch {
      await client.close()
      throw Self.report(error, connecting: false)
    }
  }

  /// Connects to the server; a failure prints `error: CODE: message` to standard error and
  /// ends with the exit code of the error (69 when the server is unreachable or not trusted).
  func connect() async throws -> ResumableClient {
    do {
      return try await ResumableClient.connect(
        socketPath: socketPath, configuration: .init(trustedServerUID: trustServerUID))
    } catch {
      throw Self.report(error, connecting: true)
    }
  }

  static func report(_ error: ResumableClientError, connecting: Bool) -> ExitCode {
    printToStandardError("error: \(error.code): \(ErrorHints.message(of: error))")
    return ExitCode(ResumableExitCode.forError(error, connecting: connecting))
  }
}

/// How to print the answer; shared by every client command.
struct OutputOptions: ParsableArguments {
  @Flag(help: "Print exactly one JSON object on standard output instead of text.")
  var json = false
}

/// The id of an existing run, as the first argument; shared by the commands about one run.
struct RunIDArgument: ParsableArguments {
  @Argument(help: "The run's id.")
  var id: String

  func validate() throws {
    try validateRunID(id)
  }
}

/// Checks a run id given on the command line: a usage error unless it follows the id rule.
func validateRunID(_ id: String) throws {
  if let problem = WorkflowID.problem(with: id) {
    throw ValidationError(problem)
  }
}
