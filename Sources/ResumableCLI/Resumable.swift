import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import ResumableClient
public import ResumableCore

/// The `resumable` command line as a library: the `resumable` executable is
/// `await ResumableCommandLine.main(plugins: .standard())`, and a program that
/// adds its own plugins runs the same command line with its own registry (see
/// `examples/custom-plugin`).
public enum ResumableCommandLine {
  /// The plugins `serve` offers while `main` runs.
  @TaskLocal static var plugins = PluginRegistry.builtIn()

  /// Parses the process' arguments and runs the command, with `plugins`
  /// available to the workflows `serve` loads. Exits the process.
  ///
  /// It first makes SwiftNIO's event loops run Swift Concurrency's tasks (NIO's
  /// documented take-over of the global executor, which must happen once, on the
  /// main thread): a task awaiting a Redis reply or writing a response then resumes
  /// on the event loop that did the I/O, instead of hopping to the cooperative pool
  /// and back — two thread wake-ups per round trip, which were most of a no-op
  /// step's cost (see BENCHMARKS.md). Nothing in this process blocks a thread of
  /// the pool, so nothing blocks an event loop either.
  public static func main(plugins: PluginRegistry) async -> Never {
    NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    await $plugins.withValue(plugins) {
      await Resumable.main()
    }
    exit(0)
  }
}

/// The `resumable` command: the sidecar server (`serve`) and its command-line client.
struct Resumable: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "resumable",
    abstract: "Durable, resumable workflows for AI agents: the sidecar server and its client.",
    discussion: """
      `resumable serve` runs the sidecar; the other commands talk to it over its Unix socket: \
      --socket PATH, else $RESUMABLE_SOCKET, else \(ResumableClient.defaultSocketPath).

      \(ResumableExitCode.summary)
      """,
    subcommands: [Serve.self, Start.self, Resume.self, State.self, Approve.self, Budget.self, List.self, Cancel.self, Health.self, Watch.self, Workers.self, Bench.self]
  )

  /// argument-parser's own entry point with one change: usage errors exit with
  /// `ResumableExitCode.usage` (2) rather than `EX_USAGE` (64).
  static func main() async {
    do {
      var command = try await asyncParseAsRoot()
      if var asyncCommand = command as? AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch {
      guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
      printToStandardError(fullMessage(for: error))
      Foundation.exit(ResumableExitCode.usage)
    }
  }
}

/// Writes `message` and a newline to standard error.
func printToStandardError(_ message: String) {
  FileHandle.standardError.write(Data((message + "\n").utf8))
}
