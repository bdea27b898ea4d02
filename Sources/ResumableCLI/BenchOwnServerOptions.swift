import ArgumentParser
import ResumableBench

extension Bench {
  /// The options of a subcommand that measures one figure on a server of its own:
  /// the embedded Redis' `appendfsync`, the server executable, and where the JSON goes.
  struct OwnServerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The embedded Redis' appendfsync.", valueName: "always|everysec"))
    var fsync = "always"

    @Option(help: ArgumentHelp("The resumable executable to run as the server (default: this one).", valueName: "path"))
    var server: String?

    @Option(help: ArgumentHelp("Also write the figures as JSON to this file (- for standard output, instead of the text).", valueName: "file"))
    var json: String?

    func validate() throws {
      _ = try Bench.policy(fsync)
    }

    /// The suite's options for this server and policy.
    func suiteOptions() throws -> BenchSuite.Options {
      try Bench.ownServerOptions(server: server, fsync: fsync)
    }
  }
}
