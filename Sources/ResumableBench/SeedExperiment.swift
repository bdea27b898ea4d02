import Foundation
import ResumableClient
public import ResumableRedis
import ResumableWire

/// The article's experiment ("Cost and Performance Benchmarks") on the real
/// server: runs of a 5-step workflow at a fixed cost per step, with
/// failures, under two strategies — full restart (a failed run is started
/// again from step 1 as a new run) and checkpoint resume (`ResumeWorkflow`).
///
/// The failure model: every step execution fails independently with
/// probability `p`, chosen so that one pass through the 5 steps hits a
/// failure with probability `failureRate` (p = 1 − (1 − rate)^(1/5)). Each
/// run draws its outcomes from its own random sequence (SplitMix64 seeded
/// with the seed and the run's number), consumed one draw per step
/// execution in order, and both strategies use the same sequences: they
/// face the same luck. A failed attempt costs the step's full price (the
/// tokens were spent). Steps do not retry inside a run (`max_attempts: 1`);
/// the caller retries at once, at most `retries` times per run.
public struct SeedExperiment: Sendable {
  public struct Options: Sendable {
    public var executable: String
    public var runs = 100
    public var costPerStep = 0.10
    public var failureRate = 0.20
    /// Retries (restarts or resumes) allowed per run after its first try.
    public var retries = 1
    public var stepLatency: Duration = .milliseconds(20)
    public var seed: UInt64 = 42
    public var fsync: RedisServerProcess.Configuration.AppendFsync = .always
    public var temporaryDirectory = "/tmp"
    public var progress: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    public init(executable: String) {
      self.executable = executable
    }
  }

  public static let steps = 5

  /// One strategy's results.
  public struct StrategyResult: Codable, Sendable {
    public var strategy: String
    /// Everything spent over all runs, scaled to 100 runs, in dollars.
    public var costPer100Runs: Double
    /// Mean time from the first start to the final answer of the runs
    /// whose first try failed.
    public var meanFailureLatencyMs: Double
    /// The same, in units of one step's latency.
    public var meanFailureLatencySteps: Double
    /// Runs that completed within the retry budget, as a percentage.
    public var successRate: Double
    public var runsHittingFailure: Int
    public var stepExecutions: Int
    /// The server's "saved by resume" total, scaled to 100 runs.
    public var savedPer100Runs: Double
  }

  public struct Report: Codable, Sendable {
    public var runs: Int
    public var steps: Int
    public var costPerStep: Double
    public var failureRate: Double
    public var stepFailureProbability: Double
    public var retries: Int
    public var stepLatencyMs: Double
    public var seed: UInt64
    public var fsync: String
    public var results: [StrategyResult]
    /// The article's story (`StoryExperiment`), when it ran too.
    public var story: StoryExperiment.Report?
  }

  public let options: Options

  public init(options: Options) {
    self.options = options
  }

  /// The step failure probability that makes a 5-step pass fail with `failureRate`.
  var stepFailureProbability: Double { 1 - pow(1 - options.failureRate, 1 / Double(Self.steps)) }

  /// What one try of a run does: the step it fails at (0-based), or nil when it completes.
  struct Plan {
    /// Full restart: per try, the step it fails at (nil: the try completes).
    var restartTries: [Int?]
    /// Checkpoint resume: failing attempts per step (the first N attempts fail).
    var resumeFailures: [Int]
    var resumeTries: Int
    var resumeCompletes: Bool
  }

  func plans() -> [Plan] {
    let p = stepFailureProbability
    return (0..<options.runs).map { run in
      func draws() -> SplitMix64 { SplitMix64(seed: options.seed &+ UInt64(run) &* 0x9E37_79B9_7F4A_7C15) }
      var random = draws()
      var restartTries: [Int?] = []
      while restartTries.count <= options.retries {
        var failedAt: Int?
        for step in 0..<Self.steps where random.nextUnit() < p {
          failedAt = step
          break
        }
        restartTries.append(failedAt)
        if failedAt == nil { break }
      }
      random = draws()
      var failures = [Int](repeating: 0, count: Self.steps)
      var tries = 1
      var cursor = 0
      while cursor < Self.steps {
        if random.nextUnit() < p {
          failures[cursor] += 1
          if tries > options.retries { break }
          tries += 1
        } else {
          cursor += 1
        }
      }
      return Plan(restartTries: restartTries, resumeFailures: failures, resumeTries: tries, resumeCompletes: cursor == Self.steps)
    }
  }

  static func restartWorkflow(failingAt step: Int?) -> String { step.map { "seed-fail-at-\($0 + 1)" } ?? "seed-ok" }
  static func resumeWorkflow(_ failures: [Int]) -> String { "seed-resume-" + failures.map(String.init).joined(separator: "-") }

  func yaml(_ plans: [Plan]) -> String {
    let latency = Int(options.stepLatency.seconds * 1000)
    func workflow(_ name: String, failAttempts: (Int) -> Int) -> String {
      var text = "  - name: \(name)\n    steps:\n"
      for step in 0..<Self.steps {
        let fail = failAttempts(step)
        text += """
              - name: step\(step + 1)
                plugin: simulate
                inputs: [\(step == 0 ? "input" : "step\(step)")]
                config: {latency_ms: \(latency), cost_usd: \(options.costPerStep)\(fail > 0 ? ", fail_attempts: \(fail)" : "")}
                retry: {max_attempts: 1}

          """
      }
      return text
    }
    var text = "workflows:\n" + workflow(Self.restartWorkflow(failingAt: nil)) { _ in 0 }
    for failing in 0..<Self.steps {
      text += workflow(Self.restartWorkflow(failingAt: failing)) { $0 == failing ? 1 : 0 }
    }
    for failures in Set(plans.map(\.resumeFailures).map { $0.map(String.init).joined(separator: "-") }).sorted() {
      let counts = failures.split(separator: "-").map { Int($0) ?? 0 }
      text += workflow(Self.resumeWorkflow(counts)) { counts[$0] }
    }
    return text
  }

  public func run() async throws -> Report {
    let plans = plans()
    let (restart, resume) = try await BenchServer.with(
      executable: options.executable, temporaryDirectory: options.temporaryDirectory, fsync: options.fsync,
      workflows: yaml(plans), progress: options.progress
    ) { server in
      try await LoadGenerator.withClients(8, socketPath: server.socketPath) { clients in
        options.progress("full restart: \(options.runs) runs")
        let restart = try await measure("full restart", plans, clients) { plan, client in
          try await self.restart(plan, client)
        }
        options.progress("checkpoint resume: \(options.runs) runs")
        let resume = try await measure("checkpoint resume", plans, clients) { plan, client in
          try await self.resume(plan, client)
        }
        return (restart, resume)
      }
    }
    return Report(
      runs: options.runs, steps: Self.steps, costPerStep: options.costPerStep, failureRate: options.failureRate,
      stepFailureProbability: stepFailureProbability, retries: options.retries,
      stepLatencyMs: options.stepLatency.seconds * 1000, seed: options.seed, fsync: options.fsync.rawValue,
      results: [restart, resume])
  }

  /// What one run under a strategy did.
  struct Outcome: Sendable {
    var completed: Bool
    var hitFailure: Bool
    var latency: Duration
    var spentMicros: Int64
    var savedMicros: Int64
    var stepExecutions: Int
  }

  private func measure(
    _ name: String, _ plans: [Plan], _ clients: [ResumableClient],
    _ body: @escaping @Sendable (Plan, ResumableClient) async throws -> Outcome
  ) async throws -> StrategyResult {
    // Every run at once: steps sleep, so runs barely compete for the CPU.
    let outcomes = try await withThrowingTaskGroup(of: Outcome.self) { group in
      for (index, plan) in plans.enumerated() {
        let client = clients[index % clients.count]
        group.addTask { try await body(plan, client) }
      }
      var outcomes: [Outcome] = []
      for try await outcome in group { outcomes.append(outcome) }
      return outcomes
    }
    let failing = outcomes.filter(\.hitFailure)
    let meanFailureSeconds = failing.isEmpty ? 0 : failing.map(\.latency.seconds).reduce(0, +) / Double(failing.count)
    let scale = 100 / Double(plans.count)
    return StrategyResult(
      strategy: name,
      costPer100Runs: Double(outcomes.map(\.spentMicros).reduce(0, +)) / 1_000_000 * scale,
      meanFailureLatencyMs: meanFailureSeconds * 1000,
      meanFailureLatencySteps: meanFailureSeconds / options.stepLatency.seconds,
      successRate: Double(outcomes.filter(\.completed).count) / Double(plans.count) * 100,
      runsHittingFailure: failing.count, stepExecutions: outcomes.map(\.stepExecutions).reduce(0, +),
      savedPer100Runs: Double(outcomes.map(\.savedMicros).reduce(0, +)) / 1_000_000 * scale)
  }

  private func restart(_ plan: Plan, _ client: ResumableClient) async throws -> Outcome {
    let began = ContinuousClock.now
    var spent: Int64 = 0
    var executions = 0
    var completed = false
    for failingAt in plan.restartTries {
      let state = try await client.startWorkflow(
        StartWorkflowRequest(workflow: Self.restartWorkflow(failingAt: failingAt))
      ).state
      spent += state.cost.spentMicros
      executions += state.steps.map { Int($0.attempts) }.reduce(0, +)
      try expect(state, failingAt == nil ? .completed : .failed, "full restart")
      completed = state.status == .completed
    }
    return Outcome(
      completed: completed, hitFailure: plan.restartTries.first! != nil, latency: .now - began,
      spentMicros: spent, savedMicros: 0, stepExecutions: executions)
  }

  private func resume(_ plan: Plan, _ client: ResumableClient) async throws -> Outcome {
    let began = ContinuousClock.now
    var state = try await client.startWorkflow(
      StartWorkflowRequest(workflow: Self.resumeWorkflow(plan.resumeFailures))
    ).state
    var tries = 1
    while state.status == .failed && tries < plan.resumeTries {
      state = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: state.workflowID)).state
      tries += 1
    }
    try expect(state, plan.resumeCompletes ? .completed : .failed, "checkpoint resume")
    return Outcome(
      completed: state.status == .completed, hitFailure: plan.resumeFailures.contains { $0 > 0 },
      latency: .now - began, spentMicros: state.cost.spentMicros, savedMicros: state.cost.savedByResumeMicros,
      stepExecutions: state.steps.map { Int($0.attempts) }.reduce(0, +))
  }

  private func expect(_ state: RunState, _ status: RunStatus, _ strategy: String) throws {
    guard state.status == status else {
      throw BenchError("\(strategy): run \(state.workflowID) ended \(state.status), the plan said \(status): \(state.error)")
    }
  }
}

extension SeedExperiment.Report {
  /// The article's table, with the failure model stated under it.
  public func table() -> String {
    var text = """
      | Strategy | Avg. Cost (\(runs) Runs) | Avg. Latency (Failures) | Success Rate |
      |---|---|---|---|

      """
    for result in results {
      text += String(
        format: "| %@ | $%.2f | %.0f ms (%.1f steps) | %.0f%% |\n", result.strategy, result.costPer100Runs * Double(runs) / 100,
        result.meanFailureLatencyMs, result.meanFailureLatencySteps, result.successRate)
    }
    text += "\n"
    text += String(
      format: """
        %d runs of a %d-step workflow, $%.2f per step (failed attempts included), step latency %.0f ms.
        Failure model: each step execution fails independently with p = %.4f, so that a %d-step pass hits a
        failure with probability %.0f%%; seed %llu (SplitMix64 per run, the same draws for both strategies).
        Retry budget: %d %@ per run after the first try, taken at once; success = completed within it.
        Without failures the runs would cost $%.2f. Avg. latency counts the runs whose first try failed, from
        the first start to the last answer. Embedded Redis, appendfsync %@.

        """, runs, steps, costPerStep, stepLatencyMs, stepFailureProbability, steps, failureRate * 100, seed, retries,
      retries == 1 ? "retry" : "retries", Double(runs * steps) * costPerStep, fsync)
    for result in results {
      text += String(
        format: "%@: %d runs hit a failure, %d step executions, saved by resume $%.2f per 100 runs\n",
        result.strategy, result.runsHittingFailure, result.stepExecutions, result.savedPer100Runs)
    }
    return text
  }

  /// The report as pretty-printed JSON.
  public func json() throws -> String { try prettyJSON(self) }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64):
/// the same seed gives the same sequence on every platform.
struct SplitMix64 {
  private var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A uniform double in [0, 1).
  mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
