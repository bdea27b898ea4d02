import Foundation
import ResumableClient
import ResumableTestSupport
import Testing

/// `resumable watch` and the live progress of `start` as a person runs them:
/// piped (plain lines), `--json` (a JSON object per line), and on a terminal
/// (through `script`, which gives the CLI a pseudo-terminal).
@Suite("watch CLI")
struct WatchCLITests {
  /// Starts run `id` of `gated` (held by `gate`), watches it with `resumable watch id
  /// arguments`, and once the watch has printed `until`, removes the gate; returns the watch's
  /// exit status and process once it exits.
  static func watchHeldRun(
    _ id: String, _ arguments: [String], until: String, socket: String, gate: String, in directory: TemporaryDirectory
  ) async throws -> (Int32, ChildProcess) {
    let start = try await ChildProcess.run(["start", "gated", "--id", id, "--no-wait", "--socket", socket], in: directory)
    #expect(start.status == 0, "\(start.stderr)")
    let watch = try ChildProcess(["watch", id, "--socket", socket] + arguments, in: directory)
    try await eventually(timeout: .seconds(20), interval: .milliseconds(20)) {
      guard watch.stdout.contains(until) else { throw TestSupportError("no '\(until)' in: \(watch.stdout)") }
    }
    try FileManager.default.removeItem(atPath: gate)
    return (await watch.wait(), watch)
  }

  @Test func pipedWatchPrintsALinePerEventThenTheFinalState() async throws {
    try await withGate { redis, directory, gate in
      try await CLITests.withServe(redis: redis, yaml: gatedYAML(gate: gate), directory: directory) { socket in
        let (status, watch) = try await Self.watchHeldRun(
          "cli-w", [], until: "Run cli-w of workflow gated: RUNNING at step wait (1 of 3)", socket: socket, gate: gate,
          in: directory)
        #expect(status == 0, "\(watch.stdout) \(watch.stderr)")
        let lines = watch.stdout.split(separator: "\n").map(String.init)
        #expect(!watch.stdout.contains("\u{1B}["), "no escape sequences when piped")
        for step in ["wait", "work", "finish"] {
          #expect(lines.filter { $0.contains(" step_committed \(step) ") }.count == 1, "\(step): \(watch.stdout)")
        }
        #expect(lines.contains { $0.hasSuffix("step_committed finish (attempt 1) -> COMPLETED") })
        #expect(lines.contains("Run cli-w of workflow gated: COMPLETED"), "ends with the state: \(watch.stdout)")
        #expect(watch.stdout.contains("Cost: spent $0.1000"))
      }
    }
  }

  @Test func jsonWatchPrintsAnObjectPerLine() async throws {
    try await withGate { redis, directory, gate in
      try await CLITests.withServe(redis: redis, yaml: gatedYAML(gate: gate), directory: directory) { socket in
        let (status, watch) = try await Self.watchHeldRun(
          "cli-j", ["--json"], until: #""type":"state""#, socket: socket, gate: gate, in: directory)
        #expect(status == 0, "\(watch.stderr)")
        let objects = try watch.stdout.split(separator: "\n").map { line in
          try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
        }
        #expect(objects.first?["type"] as? String == "state")
        #expect((objects.first?["state"] as? [String: Any])?["status"] as? String == "RUNNING")
        #expect(objects.last?["type"] as? String == "end")
        #expect((objects.last?["state"] as? [String: Any])?["status"] as? String == "COMPLETED")
        let events = objects.dropFirst().dropLast()
        #expect(events.allSatisfy { $0["at"] is String && $0["at_ms"] is Int && $0["step"] is String })
        let commits = events.filter { $0["type"] as? String == "step_committed" }
        #expect(commits.map { $0["step"] as? String } == ["wait", "work", "finish"])
        #expect(commits.last?["status"] as? String == "COMPLETED")
        for failure in events where failure["type"] as? String == "attempt_failed" {
          #expect((failure["message"] as? String)?.contains("exists") == true)
          #expect(failure["next_attempt_at"] is String)
        }
      }
    }
  }

  @Test func watchExitCodes() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      try await CLITests.withServe(redis: redis, yaml: gatedYAML(gate: "/nonexistent"), directory: directory) { socket in
        let failed = try await ChildProcess.run(["start", "doomed", "--id", "cli-f", "--socket", socket], in: directory)
        #expect(failed.status == 3)
        let watchFailed = try await ChildProcess.run(["watch", "cli-f", "--socket", socket], in: directory)
        #expect(watchFailed.status == 3, "a FAILED run exits 3: \(watchFailed.stderr)")
        #expect(watchFailed.stdout.contains("Run cli-f of workflow doomed: FAILED"))

        let unknown = try await ChildProcess.run(["watch", "nobody", "--socket", socket], in: directory)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("error: NOT_FOUND: no run with id 'nobody'"), "\(unknown.stderr)")

        let invalid = try await ChildProcess.run(["watch", "bad id", "--socket", socket], in: directory)
        #expect(invalid.status == 2, "an invalid id is a usage error: \(invalid.stderr)")

        let unreachable = try await ChildProcess.run(["watch", "cli-f", "--socket", directory.appending("none.sock")], in: directory)
        #expect(unreachable.status == 69)
      }
    }
  }

  /// On a terminal, `start` shows the live block (redrawn in place with ANSI escapes), then the
  /// final state as `resumable state` prints it.
  @Test func startOnATerminalShowsLiveProgress() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      try await CLITests.withServe(redis: redis, yaml: gatedYAML(gate: "/nonexistent"), directory: directory) { socket in
        let command = [try ChildProcess.resumableBinary(), "start", "gated", "--id", "tty-1", "--socket", socket]
          .map { "'\($0)'" }.joined(separator: " ")
        let (status, output) = try await Self.runInPseudoTerminal(command, in: directory)
        #expect(status == 0, "\(output)")
        #expect(output.contains("\u{1B}[J"), "the block is drawn with escapes: \(output)")
        #expect(output.contains("Run tty-1 of workflow gated: COMPLETED"), "\(output)")
        #expect(output.contains("Cost: spent $0.1000"))
      }
    }
  }

  /// Runs a shell command under `script`, which gives it a pseudo-terminal; returns its exit
  /// status and what it wrote.
  static func runInPseudoTerminal(_ command: String, in directory: TemporaryDirectory) async throws -> (Int32, String) {
    let output = directory.appending("tty-\(UUID().uuidString.prefix(8))")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
    process.arguments = ["-qec", command, output]
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    let (exited, sink) = AsyncStream.makeStream(of: Int32.self)
    process.terminationHandler = { sink.yield($0.terminationStatus); sink.finish() }
    try process.run()
    var status: Int32 = -1
    for await code in exited { status = code }
    return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
  }
}
