import ArgumentParser
import ResumableBench

extension Bench {
  /// `resumable bench workers`: the suite's worker step overhead alone.
  struct WorkerOverhead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "workers",
      abstract: "Only the worker step overhead: 5 no-op steps in process against the same through a Swift and a Python worker.",
      discussion: """
        The suite's worker rows on a server of its own: 5-step no-op runs in process \
        (`simulate`) and through a worker, interleaved in blocks of 50, each timed from start to \
        COMPLETED; a worker's overhead per step is (worker run p50 − in-process run p50) / 5. The \
        Swift worker runs in this process on the client library; the Python worker is the SDK in \
        ./clients/python (run it from the repository; its .venv is used when there). Repeat it \
        with --server OLD_BINARY to compare two servers.
        """)

    @Option(help: ArgumentHelp("The embedded Redis' appendfsync.", valueName: "always|everysec"))
    var fsync = "everysec"

    @OptionGroup var ownServer: OwnServerOptions

    @Option(help: "Runs of each kind measured, per worker.")
    var runs = 300

    @Option(help: "Untimed runs of each kind before each block.")
    var warmup = 20

    func validate() throws { try Bench.validate(runs: runs, atLeast: 1, warmup: warmup, fsync: fsync) }

    func run() async throws {
      try await ownServer.measure(fsync: fsync, { $0.stepRuns = runs; $0.warmupRuns = warmup }) { try await $0.runWorkerOverhead() }
    }
  }
}
