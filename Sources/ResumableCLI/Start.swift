import ArgumentParser
import Foundation
import ResumableClient
import ResumableWire

/// `resumable start WORKFLOW`: starts a run.
struct Start: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Start a run of a workflow.",
    discussion: """
      Waits for the run to end unless --no-wait is given (on a terminal, showing its progress \
      live), prints its state, and exits with the code of its status (0 COMPLETED, 3 FAILED, 4 AWAITING_APPROVAL, 5 CANCELLED, \
      6 AWAITING_BUDGET).
      """
  )

  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var output: OutputOptions

  @Argument(help: "The workflow's name, as defined on the server.")
  var workflow: String

  @Option(
    help: ArgumentHelp(
      "The run's input: inline JSON, @FILE to read it from a file, or - (or @-) to read it "
        + "from standard input. Default: null.",
      valueName: "json|@file"),
    transform: Start.readInput)
  var input: String?

  @Option(
    help: ArgumentHelp(
      "The run's id: 1 to 128 of A-Z a-z 0-9 . _ : - (default: the server picks a UUID).",
      valueName: "id"))
  var id: String?

  @Flag(help: "Return at once, with the run RUNNING, instead of waiting for it to end.")
  var noWait = false

  /// `--on-conflict`: what to do when a run with `--id` exists.
  enum OnConflict: String, ExpressibleByArgument, CaseIterable {
    case fail
    case useExisting = "use-existing"
  }

  @Option(
    name: .customLong("on-conflict"),
    help: ArgumentHelp(
      "When a run with --id exists: fail (exit 1, ALREADY_EXISTS) or use-existing (show that run, "
        + "waiting for it unless --no-wait; a failed run is not resumed).",
      valueName: "fail|use-existing"))
  var onConflict: OnConflict = .fail

  @Option(
    help: ArgumentHelp(
      "The run's budget in US dollars, over the workflow's budget_usd: an attempt that would take the "
        + "run past it does not start (the run awaits budget, or fails with on_budget: fail).",
      valueName: "usd"))
  var budget: Double?

  func validate() throws {
    if let budget, !(budget.isFinite && budget > 0) {
      throw ValidationError("--budget must be a finite number of US dollars above 0, not \(budget)")
    }
    if workflow.isEmpty {
      throw ValidationError("the workflow name cannot be empty")
    }
    if let id {
      try validateRunID(id)
    }
  }

  func run() async throws {
    let request = StartWorkflowRequest(
      workflow: workflow, workflowID: id ?? "", inputJSON: input ?? "", noWait: noWait,
      onConflict: onConflict == .useExisting ? .useExisting : .fail, budgetUsd: budget ?? 0)
    if !noWait, !output.json, ProgressDisplay.standardOutputIsTerminal {
      // On a terminal: start without waiting, then show the run's progress live (Watch.swift).
      var started = request
      started.noWait = true
      try await connection.follow(style: .live, stopAtApproval: true) { client, timeout throws(ResumableClientError) in
        try await client.startWorkflow(started, timeout: timeout).state.workflowID
      }
      return
    }
    try await connection.callForRunState(output: output, waited: !noWait) {
      client, timeout throws(ResumableClientError) in
      try await client.startWorkflow(request, timeout: timeout).state
    }
  }

  /// The `--input` argument as JSON text: inline, `@path`, or `-`/`@-` for standard input;
  /// throws a usage error unless it is valid JSON.
  @Sendable static func readInput(_ argument: String) throws -> String {
    let source: String
    let data: Data
    if argument == "-" || argument == "@-" {
      source = "standard input"
      data = FileHandle.standardInput.readDataToEndOfFile()
    } else if argument.hasPrefix("@") {
      let path = String(argument.dropFirst())
      source = "file \(path)"
      do {
        data = try Data(contentsOf: URL(fileURLWithPath: path))
      } catch {
        throw ValidationError("cannot read --input \(source): \(error.localizedDescription)")
      }
    } else {
      source = "argument"
      data = Data(argument.utf8)
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ValidationError("--input \(source) is not UTF-8 text")
    }
    do {
      _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    } catch {
      let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
      let hint = source == "argument" ? " (quote it for the shell: --input '{\"topic\": \"tides\"}')" : ""
      throw ValidationError(
        "--input \(source) is not valid JSON\(detail.map { ": \($0)" } ?? "")\(hint)")
    }
    return text
  }
}
