import Foundation
import ResumableCore
import ResumablePlugins
import ResumableTestSupport
import Testing

/// `exec` running real programs (`/bin/sh` scripts written by each test).
@Suite("exec plugin")
struct ExecPluginTests {
  /// Writes an executable shell script and returns its path.
  static func script(_ body: String, in directory: TemporaryDirectory, name: String = "step.sh") throws -> String {
    let path = directory.appending(name)
    try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
    return path
  }

  static func context(
    _ config: JSONValue, attempt: Int = 1, inputs: [String: String] = ["input": #"{"topic":"agents"}"#],
    deadline: ContinuousClock.Instant? = nil
  ) -> StepContext {
    StepContext(
      workflowID: "run-1", workflowName: "w", stepName: "summarize", stepIndex: 2, attempt: attempt, config: config,
      inputs: inputs.mapValues { Array($0.utf8) }, deadline: deadline)
  }

  static func config(_ command: [String], _ extra: [String: JSONValue] = [:]) -> JSONValue {
    var members = extra
    members["command"] = .array(command.map { .string($0) })
    return .object(members)
  }

  static func failure(_ body: () async throws -> StepOutput) async -> StepFailure? {
    do {
      _ = try await body()
      return nil
    } catch let failure as StepFailure {
      return failure
    } catch {
      Issue.record("not a StepFailure: \(error)")
      return nil
    }
  }

  @Test func theProgramGetsTheStepDocumentOnStdinAndItsStdoutIsTheArtifact() async throws {
    try await withTemporaryDirectory { directory in
      // `cat` hands the document back: the artifact shows exactly what the program read.
      let context = Self.context(Self.config(["cat"], ["params": .object(["style": .string("brief")])]), attempt: 3)
      let output = try await ExecPlugin().execute(context)
      let document = try #require(try JSONValue(parsing: output.artifact).objectValue)
      #expect(document["workflow_id"] == .string("run-1"))
      #expect(document["step"] == .string("summarize"))
      #expect(document["step_index"] == .number(2))
      #expect(document["attempt"] == .number(3))
      #expect(document["idempotency_key"] == .string("run-1/summarize/3"))
      #expect(document["config"] == .object(["style": .string("brief")]))
      #expect(document["inputs"] == .object(["input": .object(["topic": .string("agents")])]))
      #expect(document["deadline_ms"] == .null)
      #expect(output.usage == StepUsage())
    }
  }

  @Test func usageIsTakenFromItsMemberAndLeftOutOfTheArtifact() async throws {
    try await withTemporaryDirectory { directory in
      let path = try Self.script(
        #"cat > /dev/null; printf '{"summary":"ok","resumable_usage":{"input_tokens":120,"output_tokens":30,"cost_usd":0.0042}}'"#,
        in: directory)
      let deadline = ContinuousClock.now + .seconds(30)
      let output = try await ExecPlugin().execute(Self.context(Self.config([path]), deadline: deadline))
      #expect(try JSONValue(parsing: output.artifact) == .object(["summary": .string("ok")]))
      #expect(output.usage == StepUsage(inputTokens: 120, outputTokens: 30, costMicros: 4200))
    }
  }

  @Test func exitStatus75IsRetryableAndAnyOtherIsNotWithStderrInTheMessage() async throws {
    try await withTemporaryDirectory { directory in
      let temporary = try Self.script("echo 'upstream busy' >&2; exit 75", in: directory, name: "busy.sh")
      let broken = try Self.script("echo 'bad credentials' >&2; exit 3", in: directory, name: "broken.sh")
      let retry = try #require(await Self.failure { try await ExecPlugin().execute(Self.context(Self.config([temporary]))) })
      #expect(retry.retryable)
      #expect(retry.message.contains("status 75") && retry.message.contains("upstream busy"), "\(retry.message)")
      let fatal = try #require(await Self.failure { try await ExecPlugin().execute(Self.context(Self.config([broken]))) })
      #expect(!fatal.retryable)
      #expect(fatal.message.contains("status 3") && fatal.message.contains("bad credentials"), "\(fatal.message)")
    }
  }

  @Test func stdoutThatIsNotJSONFailsWithoutRetry() async throws {
    let failure = try #require(
      await Self.failure { try await ExecPlugin().execute(Self.context(Self.config(["echo", "hello"]))) })
    #expect(!failure.retryable)
    #expect(failure.message.contains("did not produce JSON") && failure.message.contains("hello"))
  }

  @Test func stderrIsKeptBoundedToItsTail() async throws {
    try await withTemporaryDirectory { directory in
      let path = try Self.script(
        "i=0; while [ $i -lt 2000 ]; do echo \"noise line $i\" >&2; i=$((i+1)); done; echo 'the real reason' >&2; exit 1",
        in: directory)
      let failure = try #require(
        await Self.failure {
          try await ExecPlugin().execute(Self.context(Self.config([path], ["max_stderr_bytes": .number(200)])))
        })
      #expect(failure.message.hasSuffix("the real reason"), "\(failure.message)")
      #expect(failure.message.utf8.count < 600)
      #expect(!failure.message.contains("noise line 5 "))
    }
  }

  @Test func onlyTheNamedEnvironmentReachesTheProgram() async throws {
    try await withTemporaryDirectory { directory in
      let path = try Self.script(
        #"cat > /dev/null; printf '{"home":"%s","greeting":"%s","user":"%s"}' "$HOME" "$GREETING" "$USER""#, in: directory)
      let server = ProcessInfo.processInfo.environment
      let bare = try await ExecPlugin().execute(Self.context(Self.config([path], ["env": .object(["GREETING": .string("hi")])])))
      #expect(try JSONValue(parsing: bare.artifact) == .object(["home": .string(""), "greeting": .string("hi"), "user": .string("")]))
      let passed = try await ExecPlugin().execute(Self.context(Self.config([path], ["pass_env": .array([.string("HOME")])])))
      #expect(try JSONValue(parsing: passed.artifact).objectValue?["home"] == .string(server["HOME"] ?? ""))
    }
  }

  @Test func cancellationKillsTheWholeProcessGroup() async throws {
    try await withTemporaryDirectory { directory in
      let pids = directory.appending("pids")
      // The program starts a grandchild, and both sleep far past the test.
      let path = try Self.script("sleep 300 & echo $! > \(pids); echo $$ >> \(pids); sleep 300", in: directory)
      let task = Task { try await ExecPlugin().execute(Self.context(Self.config([path]))) }
      let started = try await eventually {
        let text = try String(contentsOfFile: pids, encoding: .utf8)
        let numbers = text.split(separator: "\n").compactMap { Int32($0) }
        guard numbers.count == 2 else { throw TestSupportError("not started yet") }
        return numbers
      }
      task.cancel()
      _ = await task.result
      for pid in started {
        try await eventually {
          // Gone (ESRCH), or a zombie not yet reaped by init: either way, not running.
          let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: " ").dropFirst(2).first
          guard kill(pid, 0) != 0 || state == "Z" else { throw TestSupportError("\(pid) still runs") }
        }
      }
    }
  }

  @Test func badConfigurationsAreRefusedWithTheReason() {
    let plugin = ExecPlugin()
    let cases: [(JSONValue, String)] = [
      (.object([:]), "needs 'command'"),
      (.object(["command": .array([])]), "non-empty list"),
      (.object(["command": .string("ls -l")]), "no shell"),
      (.object(["command": .array([.string("ls")]), "env": .object(["1X": .string("a")])]), "variable name"),
      (.object(["command": .array([.string("ls")]), "pass_env": .array([.number(1)])]), "variable names"),
      (.object(["command": .array([.string("ls")]), "shell": .bool(true)]), "unknown key 'shell'"),
      (.object(["command": .array([.string("ls")]), "max_stdout_bytes": .number(0)]), "max_stdout_bytes"),
    ]
    for (config, expected) in cases {
      let error = #expect(throws: PluginConfigError.self) { try plugin.validate(config: config) }
      #expect(error?.message.contains(expected) == true, "\(config): \(String(describing: error))")
    }
  }

  @Test func aMissingProgramIsANonRetryableFailure() async throws {
    let failure = try #require(
      await Self.failure { try await ExecPlugin().execute(Self.context(Self.config(["/nonexistent/program"]))) })
    #expect(!failure.retryable)
    #expect(failure.message.contains("/nonexistent/program"))
  }
}
