import ArgumentParser
import ResumableClient
import ResumableWire

/// `resumable approve ID`: answers the approval a run awaits.
struct Approve: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Approve (or reject) the step a run awaits approval for.",
    discussion: """
      Approved, the run goes on (the command waits for it unless --no-wait). Rejected, the run \
      fails and stays resumable. The token comes from the run's state unless --token gives it; \
      each token works once.
      """)

  @OptionGroup var target: RunIDArgument
  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var output: OutputOptions

  @OptionGroup var answer: AnswerOptions

  func run() async throws {
    try await answer.send(to: target.id, awaiting: .awaitingApproval, what: "approval", connection, output) {
      client, token, timeout throws(ResumableClientError) in
      let request = ApproveStepRequest(
        workflowID: target.id, token: token, reject: answer.reject, note: answer.note ?? "", noWait: answer.noWait)
      return try await client.approveStep(request, timeout: timeout).state
    }
  }
}

/// `resumable budget ID`: answers a run AWAITING_BUDGET.
struct Budget: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Raise the budget of a run awaiting budget (or reject it).",
    discussion: """
      A run whose next attempt would pass its budget (with on_budget: pause) stops AWAITING_BUDGET \
      before that attempt starts. --raise-to sets a new budget (at least what the run has spent) and \
      the run goes on (the command waits for it unless --no-wait); --reject fails it (it stays \
      resumable). The token comes from the run's state unless --token gives it; each token works once.
      """)

  @OptionGroup var target: RunIDArgument
  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var output: OutputOptions

  @Option(name: .customLong("raise-to"), help: ArgumentHelp("The run's new budget in US dollars.", valueName: "usd"))
  var raiseTo: Double?

  @OptionGroup var answer: AnswerOptions

  func validate() throws {
    guard (raiseTo != nil) != answer.reject else { throw ValidationError("give exactly one of --raise-to USD and --reject") }
    if let raiseTo, !(raiseTo.isFinite && raiseTo >= 0) {
      throw ValidationError("--raise-to must be a finite number of US dollars ≥ 0, not \(raiseTo)")
    }
  }

  func run() async throws {
    try await answer.send(to: target.id, awaiting: .awaitingBudget, what: "budget", connection, output) {
      client, token, timeout throws(ResumableClientError) in
      let request = AnswerBudgetRequest(
        workflowID: target.id, token: token, raiseToUsd: raiseTo ?? 0, reject: answer.reject, note: answer.note ?? "",
        noWait: answer.noWait)
      return try await client.answerBudget(request, timeout: timeout).state
    }
  }
}

/// The options `approve` and `budget` share: a person's answer to a run that awaits one,
/// and how the command waits after it.
struct AnswerOptions: ParsableArguments {
  @Flag(help: "Reject instead: the run fails (a resume runs the step again).")
  var reject = false

  @Option(help: "A note kept in the run's events.")
  var note: String?

  @Option(help: "The answer's one-time token (default: read from the run's state).")
  var token: String?

  @Flag(help: "After the answer, return at once instead of waiting for the run to end.")
  var noWait = false

  /// Sends this answer to run `id`, which must await `status` (`what` names it in errors):
  /// `call` gets the token (`--token`, else the one in the run's state); prints the run's
  /// state and ends as `ConnectionOptions.callForRunState` does (waiting unless --no-wait or
  /// --reject).
  func send(
    to id: String, awaiting status: RunStatus, what: String, _ connection: ConnectionOptions, _ output: OutputOptions,
    _ call: (ResumableClient, _ token: String, Duration?) async throws(ResumableClientError) -> RunState
  ) async throws {
    let given = token
    try await connection.callForRunState(output: output, waited: !noWait && !reject) {
      client, timeout throws(ResumableClientError) in
      let token = try await awaitedToken(
        given: given, of: id, awaiting: status, what: what, client: client, timeout: timeout)
      return try await call(client, token, timeout)
    }
  }
}

/// The one-time token of the answer run `id` awaits: `given`, else read from
/// its state, which must be `status`.
/// - Throws: FAILED_PRECONDITION when the run awaits no such answer.
private func awaitedToken(
  given: String?, of id: String, awaiting status: RunStatus, what: String, client: ResumableClient, timeout: Duration?
) async throws(ResumableClientError) -> String {
  if let given, !given.isEmpty { return given }
  let state = try await client.getState(GetStateRequest(workflowID: id), timeout: timeout).state
  guard state.status == status, !state.approval.token.isEmpty else {
    throw ResumableClientError(
      code: .failedPrecondition, message: "run '\(id)' is not awaiting \(what) (\(state.status.renderedName))")
  }
  return state.approval.token
}
