import Foundation
import ResumableCLI
import ResumableClient
import ResumableTestSupport
import ResumableWire
import Testing

/// `resumable list|cancel|health|resume --from-step` as a person runs them, and a cancel
/// that stops a step running on another server.
@Suite("Operating runs from the CLI")
struct OperateCLITests {
  @Test func cancelOnOneServerStopsTheStepRunningOnAnother() async throws {
    let marker = "/tmp/rsm-cancel-\(UUID().uuidString.prefix(8))"
    // The step's program writes its pid here first: it has started, and its end can be awaited.
    let started = marker + ".pid"
    defer {
      try? FileManager.default.removeItem(atPath: marker)
      try? FileManager.default.removeItem(atPath: started)
    }
    try await ServeSetup.with(yaml: { _ in
      """
      workflows:
        - name: tool
          steps:
            - {name: work, plugin: exec, config: {command: [/bin/sh, -c, "echo $$ > \(started); sleep 2; touch \(marker); echo '{}'"]}}
      """
    }) { setup in
      let driver = try await setup.serve(ServeSetup.fast, name: "a")
      let other = try await setup.serve(ServeSetup.fast, name: "b")
      let start = try await ChildProcess.run(
        ["start", "tool", "--id", "x-1", "--no-wait", "--socket", driver.socket], in: setup.directory)
      #expect(start.status == 0, "\(start.stderr)")
      let pid = try await eventually(timeout: .seconds(10)) {
        guard let text = try? String(contentsOfFile: started, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw TestSupportError("the step's program has not started") }
        return pid
      }
      let cancel = try await ChildProcess.run(
        ["cancel", "x-1", "--reason", "wrong input", "--json", "--socket", other.socket], in: setup.directory)
      #expect(cancel.status == 0, "\(cancel.stderr)")
      #expect(cancel.stdout.contains("CANCELLED") && cancel.stdout.contains("wrong input"))
      // The driving server loses its lease at its next renewal and kills the program:
      // it ends (killed, or done after its 2 s), then the marker tells which.
      try await eventually(timeout: .seconds(10)) {
        guard kill(pid, 0) != 0 else { throw TestSupportError("the step's program \(pid) still runs") }
      }
      #expect(!FileManager.default.fileExists(atPath: marker), "the step was stopped before it finished")
      let list = try await ChildProcess.run(["list", "--status", "cancelled", "--socket", driver.socket], in: setup.directory)
      if !(list.status == 0 && list.stdout.contains("x-1") && list.stdout.contains("CANCELLED")) {
        // Once seen to flake ("No runs" right after the cancel): what the run is then.
        let state = try await ChildProcess.run(["state", "x-1", "--json", "--socket", driver.socket], in: setup.directory)
        Issue.record("list --status cancelled: \(list.stdout) \(list.stderr); state: \(state.stdout) \(state.stderr)")
      }
      let again = try await ChildProcess.run(["cancel", "nobody", "--socket", driver.socket], in: setup.directory)
      #expect(again.status == 1 && again.stderr.contains("NOT_FOUND"))
      let health = try await ChildProcess.run(["health", "--json", "--socket", driver.socket], in: setup.directory)
      #expect(health.status == 0 && health.stdout.contains("\"SERVING\""), "\(health.stdout)")
      _ = await driver.stop()
      _ = await other.stop()
    }
  }

  @Test func healthExitsNonZeroWhenRedisIsDownAndListPagesAndRerunWork() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      try await CLITests.withServe(redis: redis, yaml: researchYAML(record: record.path, failDraft: 0), directory: directory) { socket in
        for index in 0..<3 {
          _ = try await ChildProcess.run(["start", "echo", "--id", "p-\(index)", "--input", "1", "--socket", socket], in: directory)
        }
        let page = try await ChildProcess.run(["list", "--limit", "2", "--json", "--socket", socket], in: directory)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(page.stdout.utf8)) as? [String: Any])
        #expect((json["runs"] as? [[String: Any]])?.compactMap { $0["workflow_id"] as? String } == ["p-2", "p-1"])
        let cursor = try #require(json["next_cursor"] as? String)
        let next = try await ChildProcess.run(["list", "--cursor", cursor, "--socket", socket], in: directory)
        #expect(next.stdout.contains("p-0") && !next.stdout.contains("p-1"))
        _ = try await ChildProcess.run(["start", "research", "--id", "rr", "--socket", socket], in: directory)
        let rerun = try await ChildProcess.run(["resume", "rr", "--from-step", "draft", "--socket", socket], in: directory)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(record.executions(of: "rr") == ["search": 1, "extract": 1, "outline": 1, "draft": 2, "verify": 2])
        let bad = try await ChildProcess.run(["resume", "rr", "--from-step", "nope", "--socket", socket], in: directory)
        #expect(bad.status == 1 && bad.stderr.contains("INVALID_ARGUMENT"))
        await redis.server.kill()
        let sick = try await ChildProcess.run(["health", "--socket", socket], in: directory)
        #expect(sick.status == 1 && sick.stdout.contains("NOT_SERVING"), "\(sick.stdout) \(sick.stderr)")
        try await redis.server.start()
      }
    }
  }

  @Test func anApprovalRoundTripFromTheCommandLine() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      try await CLITests.withServe(redis: redis, yaml: approvalYAML(record: record.path), directory: directory) { socket in
        let start = try await ChildProcess.run(["start", "gated", "--id", "ap-1", "--socket", socket], in: directory)
        #expect(start.status == ResumableExitCode.awaitingApproval, "\(start.stdout) \(start.stderr)")
        #expect(start.stdout.contains("AWAITING_APPROVAL") && start.stdout.contains("resumable approve ap-1 --token"))
        let approve = try await ChildProcess.run(["approve", "ap-1", "--note", "looks right", "--socket", socket], in: directory)
        #expect(approve.status == 0, "\(approve.stdout) \(approve.stderr)")
        #expect(approve.stdout.contains("COMPLETED"))
        let again = try await ChildProcess.run(["approve", "ap-1", "--socket", socket], in: directory)
        #expect(again.status == 1 && again.stderr.contains("FAILED_PRECONDITION"), "\(again.stderr)")
        _ = try await ChildProcess.run(["start", "unsure", "--id", "ap-2", "--socket", socket], in: directory)
        let reject = try await ChildProcess.run(["approve", "ap-2", "--reject", "--note", "no", "--socket", socket], in: directory)
        #expect(reject.status == ResumableExitCode.runFailed, "\(reject.stdout) \(reject.stderr)")
      }
    }
  }
}
