import Foundation
import ResumableClient
import ResumableTestSupport
import Testing

/// End to end as a person runs it: `resumable serve` as a process, the CLI
/// as processes, a real Redis.
@Suite("CLI end to end")
struct CLITests {
  /// Runs `body` with a `resumable serve` process on a temporary socket,
  /// then stops it with SIGTERM and checks it exits cleanly.
  static func withServe(
    redis: TestRedis, yaml: String, directory: TemporaryDirectory,
    _ body: (_ socket: String) async throws -> Void
  ) async throws {
    let server = try await ServeProcess.start(
      ServeProcess.arguments(redis: redis, yaml: yaml, keyPrefix: uniqueKeyPrefix(), in: directory),
      name: "cli", logLevel: "warning", in: directory)
    do {
      try await body(server.socket)
    } catch {
      await server.kill()
      throw error
    }
    let status = await server.stop()
    #expect(status == 0, "serve exited \(status): \(server.stderr)")
    #expect(!FileManager.default.fileExists(atPath: server.socket), "the socket file is removed on shutdown")
  }

  @Test func failAtStepFourResumeAtStepFour() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      try await Self.withServe(redis: redis, yaml: researchYAML(record: record.path), directory: directory) { socket in
        let start = try await ChildProcess.run(
          ["start", "research", "--id", "cli-1", "--input", #"{"topic":"agents"}"#, "--socket", socket], in: directory)
        #expect(start.status == 3, "start: \(start.stdout) \(start.stderr)")
        #expect(start.stdout.contains("FAILED"))
        #expect(start.stdout.contains("draft"))

        let resume = try await ChildProcess.run(["resume", "cli-1", "--json"], environment: ["RESUMABLE_SOCKET": socket], in: directory)
        #expect(resume.status == 0, "resume: \(resume.stdout) \(resume.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(resume.stdout.utf8)) as? [String: Any])
        #expect(json["workflow_id"] as? String == "cli-1")
        #expect(json["workflow"] as? String == "research")
        #expect(json["status"] as? String == "COMPLETED")
        #expect(json["expires_at"] is String)
        let steps = try #require(json["steps"] as? [[String: Any]])
        #expect(steps.map { $0["name"] as? String } == ["search", "extract", "outline", "draft", "verify"])
        #expect(steps.map { $0["attempts"] as? Int } == [1, 1, 1, 2, 1])
        #expect(steps.allSatisfy { $0["status"] as? String == "COMPLETED" })
        let cost = try #require(json["cost"] as? [String: Any])
        #expect(abs((cost["spent_usd"] as? Double ?? 0) - 0.6) < 1e-9)
        #expect(abs((cost["saved_by_resume_usd"] as? Double ?? 0) - 0.3) < 1e-9)

        // Steps 1-3 once, step 4 twice, step 5 once.
        #expect(record.executions(of: "cli-1") == ["search": 1, "extract": 1, "outline": 1, "draft": 2, "verify": 1])

        let state = try await ChildProcess.run(["state", "cli-1", "--socket", socket], in: directory)
        #expect(state.status == 0)
        #expect(state.stdout.contains("COMPLETED"))
        #expect(state.stdout.contains("verify"))
      }
    }
  }

  /// The `resumable` executable serves the standard plugins: an `exec` step runs a real
  /// program, is retried on exit status 75, and fails for good on another status.
  @Test func execStepsRunRealProgramsThroughTheServer() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let counter = directory.appending("attempts")
      let program = directory.appending("step.sh")
      // Exits 75 on its first run, then answers with what it read and its usage.
      try """
        #!/bin/sh
        echo x >> \(counter)
        [ "$(wc -l < \(counter))" -ge 2 ] || { echo "warming up" >&2; exit 75; }
        printf '{"read":%s,"resumable_usage":{"cost_usd":0.25}}' "$(cat)"
        """.write(toFile: program, atomically: true, encoding: .utf8)
      chmod(program, 0o755)
      let yaml = """
        workflows:
          - name: tool
            steps:
              - {name: run, plugin: exec, inputs: [input], retry: {max_attempts: 3, initial_backoff_ms: 1}, config: {command: [\(program)]}}
          - name: broken
            steps:
              - {name: run, plugin: exec, config: {command: [/bin/sh, -c, "echo nope >&2; exit 2"]}}
        """
      try await Self.withServe(redis: redis, yaml: yaml, directory: directory) { socket in
        let ok = try await ChildProcess.run(["start", "tool", "--id", "ex-1", "--input", "[7]", "--json", "--socket", socket], in: directory)
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        let state = try await ChildProcess.run(["state", "ex-1", "--artifacts", "--json", "--socket", socket], in: directory)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(state.stdout.utf8)) as? [String: Any])
        let steps = try #require(json["steps"] as? [[String: Any]])
        #expect(steps.first?["attempts"] as? Int == 2)
        #expect(state.stdout.contains("ex-1/run/2"), "the program read its idempotency key: \(state.stdout)")
        let failed = try await ChildProcess.run(["start", "broken", "--id", "ex-2", "--socket", socket], in: directory)
        #expect(failed.status == 3)
        #expect(failed.stdout.contains("nope") && failed.stdout.contains("status 2"), "\(failed.stdout)")
      }
    }
  }

  @Test func exitCodes() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      try await Self.withServe(redis: redis, yaml: researchYAML(record: "/dev/null"), directory: directory) { socket in
        let unknown = try await ChildProcess.run(["state", "no-such-run", "--socket", socket], in: directory)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("NOT_FOUND"))
        let usage = try await ChildProcess.run(["start", "echo", "--input", "{bad", "--socket", socket], in: directory)
        #expect(usage.status == 2, "\(usage.stderr)")
        let badID = try await ChildProcess.run(["state", "bad/id", "--socket", socket], in: directory)
        #expect(badID.status == 2, "\(badID.stderr)")
        let noWait = try await ChildProcess.run(["start", "slow", "--no-wait", "--json", "--socket", socket], in: directory)
        #expect(noWait.status == 0)
        #expect(noWait.stdout.contains("\"RUNNING\""))
      }
      let unreachable = try await ChildProcess.run(["state", "x", "--socket", directory.appending("nobody.sock")], in: directory)
      #expect(unreachable.status == 69)
      #expect(unreachable.stderr.contains("resumable serve"))
    }
  }

  @Test func serveRefusesABadDefinitionsFile() async throws {
    let directory = try await TemporaryDirectory.create()
    defer { Task { await directory.remove() } }
    let definitions = directory.appending("bad.yaml")
    try "workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: nope}\n".write(toFile: definitions, atomically: true, encoding: .utf8)
    let result = try await ChildProcess.run(
      ["serve", "--socket", directory.appending("s.sock"), "--redis", "unix:///nonexistent.sock", "--workflows", definitions],
      in: directory)
    #expect(result.status != 0)
    #expect(result.stderr.contains("bad.yaml: workflow 'w', step 'a': unknown plugin 'nope'"), "\(result.stderr)")
  }

  @Test func serveWithTheEmbeddedRedis() async throws {
    let directory = try await TemporaryDirectory.create()
    defer { Task { await directory.remove() } }
    let definitions = directory.appending("w.yaml")
    try "workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo, inputs: [input]}\n".write(toFile: definitions, atomically: true, encoding: .utf8)
    let socket = directory.appending("e.sock")
    let dataDir = directory.appending("data")
    let server = try ChildProcess(
      ["serve", "--socket", socket, "--workflows", definitions, "--data-dir", dataDir], in: directory)
    var started: (status: Int32, stdout: String, stderr: String) = (-1, "", "")
    for _ in 0..<200 {
      try await Task.sleep(for: .milliseconds(50))
      started = try await ChildProcess.run(["start", "w", "--id", "emb-1", "--input", "[1]", "--socket", socket], in: directory)
      if started.status != 69 { break }
    }
    #expect(started.status == 0, "\(started.stderr) / server: \(server.stderr)")
    #expect(FileManager.default.fileExists(atPath: dataDir + "/appendonlydir") || FileManager.default.fileExists(atPath: dataDir + "/appendonly.aof"))
    server.signal(SIGINT)
    #expect(await server.wait() == 0, "\(server.stderr)")
    // The embedded redis-server stopped with the server: its socket answers no more.
    let redisSocket = try FileManager.default.contentsOfDirectory(atPath: dataDir).filter { $0.hasSuffix(".sock") }
    #expect(redisSocket.isEmpty, "\(redisSocket)")
  }
}
