import Foundation
import ResumableClient
public import ResumableRedis
import ResumableWire

/// The article's story, on the real server: a 10-step agent whose step 8 hits
/// a transient 504 again and again, under a naive retry loop that "restarted
/// from step 1. Every. Single. Time." One run of `steps` steps at
/// `costPerStep` each, whose step `failStep` fails `failTimes` times in a row
/// and then succeeds, is driven to its end under each `Strategy`; what each
/// spent is what the server's ledger recorded.
///
/// The naive loop: every step has one attempt per try (`max_attempts: 1`);
/// when a try fails the caller tries again at once, with no limit and no
/// backoff. A failed attempt costs the step's full price (the tokens were
/// spent). The outage is the bench's: under full restart every run is new
/// (its attempts count from 1), so the first `failTimes` tries start a
/// workflow whose step `failStep` fails, the next one whose steps all pass;
/// a resumed run's step fails its first `failTimes` attempts (`simulate`'s
/// `fail_attempts`, counted across resumes). The server's circuit breaker is
/// off for `simulate`: it would make the loop wait between tries, which
/// changes its pace, not what a try costs.
public struct StoryExperiment: Sendable {
  public struct Options: Sendable {
    public var executable: String
    public var steps = 10
    /// The failing step, from 1.
    public var failStep = 8
    /// How many times in a row it fails before it succeeds.
    public var failTimes = 50
    public var costPerStep = 0.045
    /// The run budget of `Strategy.resumeWithBudget`, in dollars; nil: twice a run without failures.
    public var budget: Double?
    public var stepLatency: Duration = .milliseconds(20)
    public var fsync: RedisServerProcess.Configuration.AppendFsync = .always
    public var temporaryDirectory = "/tmp"
    public var progress: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    public init(executable: String) {
      self.executable = executable
    }

    /// The budget `resumeWithBudget` runs under.
    var budgetUSD: Double { budget ?? 2 * Double(steps) * costPerStep }
  }

  /// One way the naive loop meets the failing step.
  public enum Strategy: String, CaseIterable, Codable, Sendable {
    /// Every failed try starts a new run from step 1.
    case fullRestart = "full restart"
    /// Every failed try resumes the run at its failed step.
    case checkpointResume = "checkpoint resume"
    /// As `checkpointResume`, on a workflow with `budget_usd` and `on_budget: fail`: the
    /// server starts no attempt that would take the run past it, and fails the run
    /// non-retryably, which ends the loop.
    case resumeWithBudget = "resume with a budget"

    /// The workflow of a try: `failing` when step `failStep` is to fail in it.
    func workflow(failing: Bool) -> String {
      switch self {
      case .fullRestart: failing ? "story-restart-failing" : "story-restart-ok"
      case .checkpointResume: "story-resume"
      case .resumeWithBudget: "story-budget"
      }
    }

    /// The workflows it runs: name, failing attempts of step `failStep`, workflow keys.
    func workflows(_ options: Options) -> [(name: String, failAttempts: Int, keys: String)] {
      switch self {
      case .fullRestart: [(workflow(failing: true), 1, ""), (workflow(failing: false), 0, "")]
      case .checkpointResume: [(workflow(failing: true), options.failTimes, "")]
      case .resumeWithBudget:
        [(workflow(failing: true), options.failTimes, "    budget_usd: \(options.budgetUSD)\n    on_budget: fail\n")]
      }
    }

    /// Whether the run starts anew on each try (else it is resumed).
    var restarts: Bool { self == .fullRestart }
  }

  /// One strategy's figures: what the server recorded over its runs.
  public struct StrategyResult: Codable, Sendable {
    public var strategy: Strategy
    /// Everything spent, failed attempts included, in dollars (the runs' ledgers).
    public var spentUSD: Double
    /// Step attempts begun (the runs' step records).
    public var stepExecutions: Int
    /// Starts and resumes.
    public var tries: Int
    /// Runs started.
    public var runs: Int
    /// The last run's status (`COMPLETED`, `FAILED`).
    public var status: String
    /// Why the loop stopped short of completing, when it did.
    public var stoppedBy: String?
    /// From the first start to the last answer.
    public var wallSeconds: Double
  }

  public struct Report: Codable, Sendable {
    public var steps: Int
    public var failStep: Int
    public var failTimes: Int
    public var costPerStep: Double
    /// The budget of the `resumeWithBudget` column.
    public var budgetUSD: Double
    public var stepLatencyMs: Double
    public var fsync: String
    public var results: [StrategyResult]
  }

  public let options: Options
  public let strategies: [Strategy]

  public init(options: Options, strategies: [Strategy] = Strategy.allCases) {
    self.options = options
    self.strategies = strategies
  }

  func yaml() -> String {
    let latency = Int(options.stepLatency.seconds * 1000)
    let micros = Int((options.costPerStep * 1_000_000).rounded())
    var text = "workflows:\n"
    for strategy in strategies {
      for workflow in strategy.workflows(options) {
        text += BenchWorkflows.workflow(workflow.name, steps: options.steps, keys: workflow.keys) { index in
          let fail = index == options.failStep - 1 && workflow.failAttempts > 0 ? ", fail_attempts: \(workflow.failAttempts)" : ""
          return "{latency_ms: \(latency), cost_usd: \(Double(micros) / 1_000_000)\(fail)}"
        }
      }
    }
    // The naive loop unguarded: the server's circuit breaker would hold the failing plugin
    // 30 s between probes after 5 failures in a row (fewer attempts an hour, the same per try).
    return text + "plugins:\n  simulate:\n    circuit_breaker: off\n"
  }

  public func run() async throws -> Report {
    let results = try await BenchServer.with(
      executable: options.executable, temporaryDirectory: options.temporaryDirectory, fsync: options.fsync,
      workflows: yaml(), progress: options.progress
    ) { server in
      try await LoadGenerator.withClients(1, socketPath: server.socketPath) { clients in
        var results: [StrategyResult] = []
        for strategy in strategies {
          options.progress("the story, \(strategy.rawValue): step \(options.failStep) of \(options.steps) fails \(options.failTimes) times")
          results.append(try await drive(strategy, clients[0]))
        }
        return results
      }
    }
    return Report(
      steps: options.steps, failStep: options.failStep, failTimes: options.failTimes, costPerStep: options.costPerStep,
      budgetUSD: options.budgetUSD, stepLatencyMs: options.stepLatency.seconds * 1000, fsync: options.fsync.rawValue, results: results)
  }

  /// The naive loop under `strategy`: try, and on a failure try again at once, until the run
  /// completes or fails with an error retrying cannot help.
  private func drive(_ strategy: Strategy, _ client: ResumableClient) async throws -> StrategyResult {
    let began = ContinuousClock.now
    var result = StrategyResult(
      strategy: strategy, spentUSD: 0, stepExecutions: 0, tries: 0, runs: 0, status: "", wallSeconds: 0)
    var spentMicros: Int64 = 0
    var state: RunState?
    // A safety stop for a bench that went wrong, far past what the model needs.
    while result.tries <= options.failTimes + options.steps {
      let failing = result.tries < options.failTimes
      let previous = state
      if let previous, !strategy.restarts {
        state = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: previous.workflowID)).state
      } else {
        state = try await client.startWorkflow(StartWorkflowRequest(workflow: strategy.workflow(failing: failing))).state
        result.runs += 1
        if let previous { Self.add(previous, to: &result, &spentMicros) }
      }
      result.tries += 1
      guard let current = state, current.status == .failed else { break }
      if let failed = current.steps.first(where: { $0.status == .failed }), !failed.lastErrorRetryable {
        result.stoppedBy = current.error
        break
      }
    }
    guard let last = state, last.status == .completed || result.stoppedBy != nil else {
      throw BenchError("the story, \(strategy.rawValue): the run ended \(state?.status ?? .unspecified) after \(result.tries) tries: \(state?.error ?? "")")
    }
    Self.add(last, to: &result, &spentMicros)
    result.spentUSD = Double(spentMicros) / 1_000_000
    result.status = String(describing: last.status).uppercased()
    result.wallSeconds = (ContinuousClock.now - began).seconds
    return result
  }

  /// Adds a run's spend and step executions, as its ledger and step records have them.
  private static func add(_ state: RunState, to result: inout StrategyResult, _ spentMicros: inout Int64) {
    spentMicros += state.cost.spentMicros
    result.stepExecutions += state.steps.map { Int($0.attempts) }.reduce(0, +)
  }
}

extension StoryExperiment.Report {
  /// The strategies side by side, with the model stated under them.
  public func table() -> String {
    func row(_ title: String, _ cell: (StoryExperiment.StrategyResult) -> String) -> String {
      "| \(title) | " + results.map(cell).joined(separator: " | ") + " |\n"
    }
    func title(_ strategy: StoryExperiment.Strategy) -> String {
      strategy == .resumeWithBudget ? String(format: "resume with a $%.2f budget", budgetUSD) : strategy.rawValue
    }
    var text = "| The story | " + results.map { title($0.strategy) }.joined(separator: " | ") + " |\n"
    text += "|---|" + String(repeating: "---|", count: results.count) + "\n"
    text += row("Spent") { String(format: "$%.2f", $0.spentUSD) }
    text += row("Step executions") { "\($0.stepExecutions)" }
    text += row("Tries (starts + resumes)") { "\($0.tries)" }
    text += row("Runs started") { "\($0.runs)" }
    text += row("Outcome") { $0.stoppedBy == nil ? $0.status : "\($0.status), stopped" }
    text += row("Time to the last answer") { String(format: "%.1f s", $0.wallSeconds) }
    let clean = Double(steps) * costPerStep
    text += "\n"
    text += String(
      format: """
        The model: one run of %d steps at $%.3f a step ($%.2f when nothing fails); a failed attempt costs
        the full price (the tokens were spent). Step %d fails %d times in a row (a transient 504), then
        succeeds. The caller is the article's naive loop: each step has one attempt per try
        (max_attempts: 1), and on a failure the caller tries again at once, with no limit and no backoff.
        Full restart starts a new run from step 1 on each try: %d failed tries of %d steps, then %d steps
        (%d step executions). Checkpoint resume continues the failed run at step %d: %d steps, %d attempts
        of step %d, %d steps (%d step executions).

        """, steps, costPerStep, clean, failStep, failTimes, failTimes, failStep, steps,
      failTimes * failStep + steps, failStep, failStep - 1, failTimes + 1, failStep, steps - failStep,
      steps + failTimes)
    if results.contains(where: { $0.strategy == .resumeWithBudget }) {
      text += String(
        format: """
          Resume with a budget: the same loop on a workflow with budget_usd: %.2f and on_budget: fail.
          Before each attempt the server projects spent + the attempt's estimate (simulate's: its cost);
          it starts none that would pass the budget, and fails the run with a non-retryable error, so
          the loop stops. It spends at most the budget however long the outage lasts. (With
          on_budget: pause, the default, the run would wait AWAITING_BUDGET for a person instead.)

          """, budgetUSD)
    }
    for result in results where result.stoppedBy != nil {
      text += "\(title(result.strategy)) stopped: \(result.stoppedBy ?? "")\n"
    }
    text += String(
      format: """
        Figures are the server's: spent from the runs' cost ledgers, executions from their step records.
        Step latency %.0f ms; embedded Redis, appendfsync %@.

        """, stepLatencyMs, fsync)
    return text
  }
}
