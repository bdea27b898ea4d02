public import ResumableClient
public import ResumableWire

/// The exit codes of the `resumable` command-line client, in one place so that the CLI, its help
/// text and the scripts that call it agree.
///
/// | code | meaning |
/// | ---- | ------- |
/// | 0 | the run is COMPLETED (or RUNNING when the command did not wait for it) |
/// | 1 | any other error (`error: CODE: message` on standard error) |
/// | 2 | usage error: bad arguments |
/// | 3 | the run is FAILED |
/// | 4 | the run is AWAITING_APPROVAL |
/// | 5 | the run is CANCELLED |
/// | 6 | the run is AWAITING_BUDGET |
/// | 69 | the server is unreachable: nothing to connect to at the socket path, or the server there runs as a user this client does not trust |
public enum ResumableExitCode {
  /// The run is COMPLETED, or RUNNING when the command did not wait for it.
  public static let success: Int32 = 0
  /// Any other error.
  public static let failure: Int32 = 1
  /// Bad arguments.
  public static let usage: Int32 = 2
  /// The run is FAILED.
  public static let runFailed: Int32 = 3
  /// The run is AWAITING_APPROVAL.
  public static let awaitingApproval: Int32 = 4
  /// The run is CANCELLED.
  public static let runCancelled: Int32 = 5
  /// The run is AWAITING_BUDGET.
  public static let awaitingBudget: Int32 = 6
  /// The server is unreachable (`EX_UNAVAILABLE`), or runs as a user not trusted.
  public static let unreachable: Int32 = 69

  /// The table above as help text, for the command's `--help`.
  public static let summary = """
    Exit codes:
      0   the run is COMPLETED (RUNNING too, with --no-wait or for `state`)
      1   any other error (printed as `error: CODE: message` on standard error)
      2   usage error: bad arguments
      3   the run is FAILED (resume it with `resumable resume ID`)
      4   the run is AWAITING_APPROVAL
      5   the run is CANCELLED
      6   the run is AWAITING_BUDGET (raise it with `resumable budget ID --raise-to USD`)
      69  the server is unreachable (nothing listening at the socket path, or it runs
          as another user: see --trust-server-uid)
    """

  /// The exit code for a run's status as a command returns it.
  /// - Parameters:
  ///   - status: The run's status.
  ///   - waited: Whether the command waited for the run to end: a RUNNING run is then an
  ///     anomaly (exit 1), while without waiting it is the expected answer (exit 0).
  public static func forRun(_ status: RunStatus, waited: Bool) -> Int32 {
    switch status {
    case .completed: success
    case .running: waited ? failure : success
    case .failed: runFailed
    case .awaitingApproval: awaitingApproval
    case .cancelled: runCancelled
    case .awaitingBudget: awaitingBudget
    case .unspecified: failure
    }
  }

  /// The exit code for a failed call.
  /// - Parameters:
  ///   - error: The client's error.
  ///   - connecting: Whether it happened while connecting: only then does `.unavailable` mean
  ///     the server is unreachable (69); a server that answers `UNAVAILABLE` exits 1.
  public static func forError(_ error: ResumableClientError, connecting: Bool) -> Int32 {
    connecting && error.code == .unavailable ? unreachable : failure
  }
}
