import ArgumentParser
import Foundation
import ResumableBench
import ResumableRedis

/// `resumable bench`: the benchmark suite, and the article's experiment (`bench seed`).
struct Bench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure the server: step overhead against the Redis floor, resume, GetState, throughput, memory, storage.",
    discussion: """
      Starts its own `resumable serve` (this executable) on an embedded Redis in a temporary \
      directory, once per --fsync policy, drives it over the Unix socket, and prints a table \
      (BENCHMARKS.md explains every row). Run it on a release build, on a quiet machine: the \
      server, Redis and the load generator share the CPU. `--redis-topology cluster` compares \
      one Redis with a local Redis Cluster instead.
      """,
    subcommands: [Suite.self, Seed.self, FanOut.self, Runs.self, WorkerOverhead.self],
    defaultSubcommand: Suite.self)

  /// The default set (`resumable bench` or `resumable bench suite`).
  struct Suite: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "suite", abstract: "Run the default benchmark set (the default subcommand).")

    @Option(help: ArgumentHelp("appendfsync policies to measure, comma-separated; the first gets every figure (default: always,everysec; with --smoke: everysec).", valueName: "always,everysec"))
    var fsync: String?

    @Option(help: "Seconds each closed-loop load (GetState, throughput) is measured.")
    var seconds: Double = 2

    @Option(help: "Runs of 20 (and of 1) no-op steps for the step overhead.")
    var stepRuns = 300

    @Option(help: "Resumes of each kind.")
    var resumes = 300

    @Option(name: .customLong("in-flight"), help: "Runs held in flight for the memory figure.")
    var inFlight = 10_000

    @Flag(help: "Tiny sizes: checks that everything runs (seconds), figures meaningless.")
    var smoke = false

    @Option(
      name: .customLong("redis-topology"),
      help: ArgumentHelp(
        "single: the default set, on the embedded Redis. cluster: only the throughput rows (5-step runs at 32 and 128 callers), on one redis-server and on a local 3-master Redis Cluster side by side, with CPU per run of the server and of Redis (needs redis-server and redis-cli).",
        valueName: "single|cluster"))
    var redisTopology: Topology = .single

    /// What `--redis-topology` takes.
    enum Topology: String, ExpressibleByArgument, CaseIterable {
      case single, cluster
    }

    @Option(help: ArgumentHelp("The resumable executable to run as the server (default: this one), e.g. another build to compare.", valueName: "path"))
    var server: String?

    @Option(help: ArgumentHelp("Also write the figures as JSON to this file (- for standard output, instead of the table).", valueName: "file"))
    var json: String?

    func validate() throws {
      _ = try policies()
      guard seconds > 0, stepRuns > 0, resumes > 0, inFlight > 0 else {
        throw ValidationError("--seconds, --step-runs, --resumes and --in-flight must be positive")
      }
    }

    func policies() throws -> [RedisServerProcess.Configuration.AppendFsync] {
      let names = (fsync ?? (smoke ? "everysec" : "always,everysec")).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
      let policies = names.compactMap { RedisServerProcess.Configuration.AppendFsync(rawValue: $0) }
      guard !policies.isEmpty, policies.count == names.count else {
        throw ValidationError("--fsync takes always and/or everysec, comma-separated")
      }
      return policies
    }

    func run() async throws {
      let executable = try server ?? Bench.executable()
      var options = BenchSuite.Options(executable: executable)
      if smoke {
        options = .smoke(executable: executable)
      } else {
        options.duration = .milliseconds(Int64(seconds * 1000))
        options.stepRuns = stepRuns
        options.resumes = resumes
        options.runsInFlight = inFlight
      }
      options.fsync = try policies()
      switch redisTopology {
      case .single:
        let report = try await BenchSuite(options: options).run()
        try Bench.output(table: report.table(), json: report.json(), to: json)
      case .cluster:
        let report = try await BenchSuite(options: options).runTopologies()
        try Bench.output(table: report.table(), json: report.json(), to: json)
      }
    }
  }

  /// `resumable bench fan-out`: the suite's map fan-out figure alone.
  struct FanOut: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "fan-out",
      abstract: "Only the map fan-out: 100 map items (16 at once) against 100 steps in order, with CPU per item.",
      discussion: """
        The suite's map fan-out row on a server of its own: after warm-up runs, one run of each \
        per round, interleaved, each timed from start to COMPLETED; items (steps) per second from \
        the p50s, and the CPU of the server and of Redis and Redis' scripts per item (step), \
        counted around the measured runs.
        """)

    @Option(help: ArgumentHelp("The embedded Redis' appendfsync.", valueName: "always|everysec"))
    var fsync = "always"

    @Option(help: "Rounds: runs of each measured.")
    var runs = 30

    @Option(help: "Untimed runs of each first.")
    var warmup = 20

    @OptionGroup var ownServer: OwnServerOptions

    func validate() throws { try Bench.validate(runs: runs, atLeast: 2, warmup: warmup, fsync: fsync) }

    func run() async throws {
      try await ownServer.measure(fsync: fsync, { $0.fanOutRuns = runs; $0.warmupRuns = warmup }) { try await $0.runMapFanOut() }
    }
  }

  /// `--runs` (at least `minimum`), `--warmup` and `--fsync` of a subcommand that times runs.
  static func validate(runs: Int, atLeast minimum: Int, warmup: Int, fsync: String) throws {
    guard runs >= minimum, warmup >= 0 else {
      throw ValidationError("--runs must be at least \(minimum) and --warmup 0 or more")
    }
    _ = try policy(fsync)
  }

  /// `--fsync` of the subcommands that run a server of their own: always or everysec.
  static func policy(_ fsync: String) throws -> RedisServerProcess.Configuration.AppendFsync {
    guard let policy = RedisServerProcess.Configuration.AppendFsync(rawValue: fsync), policy != .no else {
      throw ValidationError("--fsync must be always or everysec")
    }
    return policy
  }

  /// The options `fan-out` and `runs` share: they run a server of their own, and print
  /// one set of figures.
  struct OwnServerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The resumable executable to run as the server (default: this one).", valueName: "path"))
    var server: String?

    @Option(help: ArgumentHelp("Also write the figures as JSON to this file (- for standard output, instead of the text).", valueName: "file"))
    var json: String?

    /// The suite's options: `--server` (default: this executable) on an embedded Redis under `fsync`.
    func suiteOptions(fsync: String) throws -> BenchSuite.Options {
      var options = BenchSuite.Options(executable: try server ?? Bench.executable())
      options.fsync = [try Bench.policy(fsync)]
      return options
    }

    /// Runs `measure` with the suite's options (`configure` sets its sizes) and
    /// prints its figures, or writes them as JSON (`--json`).
    func measure<Figures: OwnServerFigures>(
      fsync: String, _ configure: (inout BenchSuite.Options) -> Void,
      _ measure: (BenchSuite) async throws -> (fsync: String, figures: Figures)
    ) async throws {
      var options = try suiteOptions(fsync: fsync)
      configure(&options)
      let (policy, figures) = try await measure(BenchSuite(options: options))
      try Bench.output(table: figures.table(fsync: policy), json: figures.json(), to: json)
    }
  }

  /// `resumable bench runs`: the suite's throughput rows alone.
  struct Runs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Only the throughput rows: 5-step no-op runs (or GetState) at some callers, with CPU and EVALSHA per run.",
      discussion: """
        Closed-loop 5-step no-op runs (each started and waited for) on a server of its own, at \
        each number of callers for --seconds after a warm-up, with the CPU of the server and of \
        Redis per run (/proc/PID/stat) and Redis' EVALSHA calls per run. Repeat it with \
        --server OLD_BINARY to compare two builds; run `perf record -p` on the server meanwhile \
        to profile it under a steady load.
        """)

    @Option(help: ArgumentHelp("The embedded Redis' appendfsync.", valueName: "always|everysec"))
    var fsync = "everysec"

    @Option(help: ArgumentHelp("Concurrent callers, comma-separated: one load each.", valueName: "n,n"))
    var callers = "32"

    @Option(help: "Seconds each load is measured.")
    var seconds = 5.0

    @Flag(help: "Measure GetState of completed 5-step runs instead (one run per caller, read again and again).")
    var getState = false

    @OptionGroup var ownServer: OwnServerOptions

    var levels: [Int] { callers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
      let levels = self.levels
      guard !levels.isEmpty, levels.count == callers.split(separator: ",").count, levels.allSatisfy({ (1...1024).contains($0) })
      else { throw ValidationError("--callers must be numbers from 1 to 1024, comma-separated, e.g. 8,32") }
      guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be above 0 and at most 3600") }
      _ = try Bench.policy(fsync)
    }

    func run() async throws {
      var options = try ownServer.suiteOptions(fsync: fsync)
      options.throughputConcurrency = levels
      options.getStateConcurrency = levels
      options.duration = .milliseconds(Int64(seconds * 1000))
      let suite = BenchSuite(options: options)
      let (policy, loads) = try await getState ? suite.runGetState() : suite.runThroughput()
      try Bench.output(table: loads.table(fsync: policy, unit: getState ? "read" : "run"), json: loads.json(), to: ownServer.json)
    }
  }

  /// `resumable bench seed`: the article's cost/latency table and its story on the real server.
  struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Reproduce the article's experiment and its story: full restart against checkpoint resume.",
      discussion: """
        The table: runs of a 5-step workflow ($0.10 a step) under a seeded failure model, once \
        started again from step 1 on failure, once resumed; prints the article's table (average \
        cost per 100 runs, average latency of the runs that hit a failure, success rate within the \
        retry budget) and the model it used. The story: one run of --steps steps ($0.045 a step) \
        whose step --fail-step fails --fail-times times in a row, under the article's naive retry \
        loop, once restarted from step 1 on each failure, once resumed, once resumed under a \
        run budget (--budget, on_budget: fail); prints what each spent side by side, and the \
        model. Both on a server of their own.
        """)

    @Option(help: "Runs per strategy.")
    var runs = 100

    @Option(name: .customLong("failure-rate"), help: "The probability that a pass through the 5 steps hits a failure.")
    var failureRate = 0.20

    @Option(help: "Retries (restarts or resumes) allowed per run after its first try.")
    var retries = 1

    @Option(name: .customLong("step-ms"), help: "Each step's latency, in milliseconds.")
    var stepMilliseconds = 20

    @Option(name: .customLong("cost"), help: "Each step's cost, in dollars (default: 0.10 in the table, 0.045 in the story).")
    var costPerStep: Double?

    @Option(help: "The story: its run's steps.")
    var steps = 10

    @Option(name: .customLong("fail-step"), help: "The story: the step (from 1) that fails.")
    var failStep = 8

    @Option(name: .customLong("fail-times"), help: "The story: how many times in a row it fails before it succeeds.")
    var failTimes = 50

    @Option(help: ArgumentHelp("The story: the budget of its third column, in dollars (default: twice a run without failures).", valueName: "USD"))
    var budget: Double?

    @Option(help: "The random seed of the failure draws.")
    var seed: UInt64 = 42

    @Option(help: ArgumentHelp("The embedded Redis' appendfsync.", valueName: "always|everysec"))
    var fsync = "always"

    @Option(help: ArgumentHelp("Also write the results as JSON to this file (- for standard output, instead of the table).", valueName: "file"))
    var json: String?

    func validate() throws {
      guard runs > 0 else { throw ValidationError("--runs must be positive") }
      guard failureRate >= 0, failureRate < 1 else { throw ValidationError("--failure-rate must be in [0, 1)") }
      guard retries >= 0 else { throw ValidationError("--retries must be 0 or more") }
      guard stepMilliseconds >= 1 else { throw ValidationError("--step-ms must be at least 1") }
      guard costPerStep ?? 0 >= 0 else { throw ValidationError("--cost must be 0 or more") }
      guard steps >= 1, failStep >= 1, failStep <= steps else {
        throw ValidationError("--steps must be at least 1 and --fail-step one of its steps (1 to --steps)")
      }
      guard failTimes >= 0 else { throw ValidationError("--fail-times must be 0 or more") }
      guard budget.map({ $0.isFinite && $0 > 0 }) ?? true else { throw ValidationError("--budget must be a positive number of dollars") }
      _ = try Bench.policy(fsync)
    }

    func run() async throws {
      let executable = try Bench.executable()
      let appendFsync = try Bench.policy(fsync)
      var options = SeedExperiment.Options(executable: executable)
      options.runs = runs
      options.failureRate = failureRate
      options.retries = retries
      options.stepLatency = .milliseconds(stepMilliseconds)
      options.costPerStep = costPerStep ?? options.costPerStep
      options.seed = seed
      options.fsync = appendFsync
      var report = try await SeedExperiment(options: options).run()
      var story = StoryExperiment.Options(executable: executable)
      story.steps = steps
      story.failStep = failStep
      story.failTimes = failTimes
      story.costPerStep = costPerStep ?? story.costPerStep
      story.budget = budget
      story.stepLatency = options.stepLatency
      story.fsync = appendFsync
      let storyReport = try await StoryExperiment(options: story).run()
      report.story = storyReport
      try Bench.output(table: report.table() + "\n" + storyReport.table(), json: report.json(), to: json)
    }
  }

  /// This executable, which the benchmark runs as the server.
  static func executable() throws -> String {
    guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
      throw ValidationError("cannot find this executable (/proc/self/exe) to run the server")
    }
    return path
  }

  /// Prints the table (or the JSON, with `--json -`); writes the JSON to a file when asked.
  static func output(table: String, json: String, to destination: String?) throws {
    switch destination {
    case "-":
      print(json)
    case let path?:
      try (json + "\n").write(toFile: path, atomically: true, encoding: .utf8)
      print(table)
    case nil:
      print(table)
    }
  }
}
