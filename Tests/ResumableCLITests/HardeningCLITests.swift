import Foundation
import NIOCore
import NIOPosix
import ResumableRedis
import ResumableTestSupport
import ResumableWire
import Testing

/// Issue 8 end to end, with `resumable serve` as a process: peer allow-lists
/// with a client running as another user, Redis credentials that never show,
/// an ACL user limited to the server's commands, metrics and JSON logs.
@Suite("Hardening, end to end")
struct HardeningCLITests {
  static let nobodyUID: UInt32 = 65534

  /// Runs the CLI as `nobody` (via setpriv), which can reach `directory`.
  static func runAsNobody(_ arguments: [String], in directory: TemporaryDirectory) async throws -> (status: Int32, stdout: String, stderr: String) {
    try await ChildProcess.run(
      ["--reuid=nobody", "--regid=nogroup", "--clear-groups", try ChildProcess.resumableBinary()] + arguments,
      executable: "/usr/bin/setpriv", in: directory)
  }

  /// A directory `nobody` can enter, for a socket it may open.
  static func sharedDirectory() async throws -> TemporaryDirectory {
    let directory = try await TemporaryDirectory.create()
    chmod(directory.path, 0o755)
    return directory
  }

  @Test func aRefusedUIDGetsPermissionDeniedAndIsLogged() async throws {
    try await withTestRedis { redis in
      let directory = try await Self.sharedDirectory()
      defer { Task { await directory.remove() } }
      try await ServeProcess.withServe(
        redis: redis, yaml: researchYAML(record: "/dev/null"), directory: directory,
        extraArguments: ["--socket-mode", "0666", "--allow-uid", "0", "--log-format", "json"]
      ) { socket, server in
        let refused = try await Self.runAsNobody(["state", "some-run", "--socket", socket], in: directory)
        #expect(refused.status == 1, "\(refused.stdout) \(refused.stderr)")
        #expect(refused.stderr.contains("PERMISSION_DENIED"), "\(refused.stderr)")
        #expect(refused.stderr.contains("uid \(Self.nobodyUID)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--allow-uid"), "\(refused.stderr)")
        // The allowed uid (root, this test) gets through.
        let allowed = try await ChildProcess.run(["state", "some-run", "--socket", socket], in: directory)
        #expect(allowed.stderr.contains("NOT_FOUND"), "\(allowed.stderr)")
        // The refusal is logged with the peer's uid, gid and pid.
        let refusal = try await eventually {
          guard let line = try Self.jsonLines(server.stderr).first(where: { ($0["message"] as? String)?.contains("refused") == true })
          else { throw TestSupportError("no refusal logged yet: \(server.stderr)") }
          return line
        }
        #expect(refusal["peer_uid"] as? String == "\(Self.nobodyUID)")
        #expect(refusal["peer_gid"] as? String == "65534")
        #expect(Int(refusal["peer_pid"] as? String ?? "") ?? 0 > 0)
      }
    }
  }

  @Test func anAllowedUIDIsServedAndOthersAreRefused() async throws {
    try await withTestRedis { redis in
      let directory = try await Self.sharedDirectory()
      defer { Task { await directory.remove() } }
      try await ServeProcess.withServe(
        redis: redis, yaml: researchYAML(record: "/dev/null"), directory: directory,
        extraArguments: ["--socket-mode", "0666", "--allow-uid", "\(Self.nobodyUID)"]
      ) { socket, _ in
        var info = stat()
        #expect(stat(socket, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o666)
        let allowed = try await Self.runAsNobody(["start", "echo", "--id", "as-nobody", "--input", "1", "--socket", socket], in: directory)
        #expect(allowed.status == 0, "\(allowed.stdout) \(allowed.stderr)")
        #expect(allowed.stdout.contains("COMPLETED"))
        try await RawConnection.with(socket) { root in
          let frames = try await root.framesUntilClose()
          #expect(frames.count == 1)
          #expect(frames.first?.statusCode == .permissionDenied)
          #expect(frames.first?.statusMessage.contains("uid 0") == true)
        }
      }
    }
  }

  @Test func aSocketGroupLetsItsMembersIn() async throws {
    try await withTestRedis { redis in
      let directory = try await Self.sharedDirectory()
      defer { Task { await directory.remove() } }
      try await ServeProcess.withServe(
        redis: redis, yaml: researchYAML(record: "/dev/null"), directory: directory,
        extraArguments: ["--socket-mode", "0660", "--socket-group", "nogroup"]
      ) { socket, _ in
        var info = stat()
        #expect(stat(socket, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660)
        #expect(info.st_gid == 65534)
        // nobody's group is nogroup: the group bits let it in (no allow-list is set).
        let member = try await Self.runAsNobody(["state", "x", "--socket", socket], in: directory)
        #expect(member.stderr.contains("NOT_FOUND"), "\(member.stdout) \(member.stderr)")
      }
    }
  }

  @Test func theDefaultSocketModeKeepsOtherUsersOut() async throws {
    try await withTestRedis { redis in
      let directory = try await Self.sharedDirectory()
      defer { Task { await directory.remove() } }
      try await ServeProcess.withServe(redis: redis, yaml: researchYAML(record: "/dev/null"), directory: directory) { socket, _ in
        var info = stat()
        #expect(stat(socket, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let refused = try await Self.runAsNobody(["state", "x", "--socket", socket], in: directory)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("permission denied"), "\(refused.stdout) \(refused.stderr)")
      }
    }
  }

  static let password = "pw-Zq81-never-shown"

  @Test func theRedisPasswordNeverAppearsInAnyOutput() async throws {
    try await withTestRedis(extraArguments: ["--requirepass", Self.password]) { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let passwordFile = directory.appending("redis-password")
      try (Self.password + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
      var outputs: [String] = []
      try await ServeProcess.withServe(
        redis: redis, yaml: researchYAML(record: "/dev/null"), directory: directory,
        extraArguments: ["--redis-password-file", passwordFile, "--log-level", "trace"]
      ) { socket, server in
        let run = try await ChildProcess.run(["start", "echo", "--id", "pw-1", "--input", "2", "--socket", socket], in: directory)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        outputs += [run.stdout, run.stderr, server.child.stdout, server.stderr]
        #expect(server.stderr.contains("listening"), "the server logs at trace level: \(server.stderr)")
      }
      // From the environment too.
      try await ServeProcess.withServe(
        redis: redis, yaml: researchYAML(record: "/dev/null"), directory: directory,
        environment: ["RESUMABLE_REDIS_PASSWORD": Self.password]
      ) { socket, server in
        let run = try await ChildProcess.run(["start", "echo", "--id", "pw-2", "--input", "3", "--socket", socket], in: directory)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        outputs += [server.child.stdout, server.stderr]
      }
      // A wrong password, a password given twice, and --help.
      let socket = directory.appending("no.sock")
      let redisURL = "unix://\(redis.server.configuration.socketPath)"
      // A wrong password: the server keeps retrying (as while Redis is down), saying why.
      let wrongServer = try ChildProcess(
        ["serve", "--socket", socket, "--redis", redisURL, "--log-level", "trace"],
        environment: ["RESUMABLE_REDIS_PASSWORD": Self.password + "-wrong"], in: directory)
      let refusedAuth = try await eventually(timeout: .seconds(20)) {
        guard wrongServer.stderr.contains("WRONGPASS") else { throw TestSupportError("no AUTH failure yet: \(wrongServer.stderr)") }
        return true
      }
      wrongServer.signal(SIGKILL)
      _ = await wrongServer.wait()
      #expect(refusedAuth)
      let wrong = (stdout: wrongServer.stdout, stderr: wrongServer.stderr)
      let twice = try await ChildProcess.run(
        ["serve", "--socket", socket, "--redis", "redis://user:\(Self.password)@127.0.0.1:1", "--redis-password-file", passwordFile],
        in: directory)
      #expect(twice.status != 0)
      #expect(twice.stderr.contains("given twice"), "\(twice.stderr)")
      let badPort = try await ChildProcess.run(
        ["serve", "--socket", socket, "--redis", "redis://user:\(Self.password)@127.0.0.1:99999"], in: directory)
      #expect(badPort.status != 0)
      #expect(badPort.stderr.contains("redis://user:***@127.0.0.1:99999"), "\(badPort.stderr)")
      let help = try await ChildProcess.run(["serve", "--help"], environment: ["RESUMABLE_REDIS_PASSWORD": Self.password], in: directory)
      #expect(help.stdout.contains("--redis-password-file"))
      outputs += [wrong.stdout, wrong.stderr, twice.stdout, twice.stderr, badPort.stdout, badPort.stderr, help.stdout, help.stderr]
      for output in outputs {
        #expect(!output.contains(Self.password), "the password leaked: \(output)")
      }
    }
  }

  /// The commands the server sends, directly or from its scripts (README "Redis ACL").
  static let aclCommands = [
    "ping", "evalsha", "script|load", "hmget", "lrange", "xrevrange", "zadd", "zrem", "zrangebyscore",
    "zrevrangebyscore", "del", "exists", "get", "hdel", "hget", "hgetall", "hincrby", "hset", "llen", "ltrim",
    "pexpire", "pttl", "rpush", "set", "xadd", "xrange", "zscore", "zrange", "time", "info", "hsetnx",
  ]

  @Test func anACLUserLimitedToTheServersCommandsRunsAndResumes() async throws {
    try await withTestRedis { redis in
      let prefix = uniqueKeyPrefix("acl")
      try await redis.withClient { admin in
        let reply = try await admin.send(
          ["ACL", "SETUSER", "resumable", "reset", "on", ">\(Self.password)", "~\(prefix)*", "-@all"]
            + Self.aclCommands.map { RedisArgument("+\($0)") })
        #expect(reply.errorMessage == nil, "\(reply)")
        // Scripts are loaded by the server itself, through the ACL user.
        _ = try await admin.send(["SCRIPT", "FLUSH"])
      }
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let passwordFile = directory.appending("pw")
      try Self.password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
      let record = RecordFile(in: directory)
      let definitions = directory.appending("acl.yaml")
      try researchYAML(record: record.path).write(toFile: definitions, atomically: true, encoding: .utf8)
      let socket = directory.appending("acl.sock")
      let server = try ChildProcess(
        [
          "serve", "--socket", socket, "--redis", "unix://resumable@\(redis.server.configuration.socketPath)",
          "--workflows", definitions, "--key-prefix", String(prefix.dropLast()), "--redis-password-file", passwordFile,
          "--log-level", "warning",
        ], in: directory)
      defer { server.signal(SIGKILL) }
      try await eventually(timeout: .seconds(10)) {
        guard FileManager.default.fileExists(atPath: socket) else { throw TestSupportError("not up: \(server.stderr)") }
      }
      // A run that fails at step 4, then its resume: every store operation there is.
      let start = try await ChildProcess.run(["start", "research", "--id", "acl-1", "--input", "{}", "--socket", socket], in: directory)
      #expect(start.status == 3, "\(start.stdout) \(start.stderr) \(server.stderr)")
      let resume = try await ChildProcess.run(["resume", "acl-1", "--socket", socket], in: directory)
      #expect(resume.status == 0, "\(resume.stdout) \(resume.stderr) \(server.stderr)")
      let state = try await ChildProcess.run(["state", "acl-1", "--artifacts", "--socket", socket], in: directory)
      #expect(state.status == 0, "\(state.stdout) \(state.stderr)")
      let list = try await ChildProcess.run(["list", "--json", "--socket", socket], in: directory)
      #expect(list.status == 0 && list.stdout.contains("acl-1"), "\(list.stdout) \(list.stderr)")
      let watch = try await ChildProcess.run(["watch", "acl-1", "--socket", socket], in: directory)
      #expect(watch.status == 0, "\(watch.stdout) \(watch.stderr)")
      #expect(!server.stderr.contains("NOPERM"), "\(server.stderr)")
      // CONFIG is refused, INFO is not: the eviction policy is read, and it is noeviction.
      #expect(!server.stderr.contains("maxmemory-policy"), "\(server.stderr)")
      // The user really is limited: a command off the list is refused.
      let limited = RedisClient(address: try RedisAddress(url: "unix://resumable@\(redis.server.configuration.socketPath)")
        .authenticating(username: "resumable", password: Self.password))
      let refused = try await limited.send(["KEYS", "*"])
      #expect(refused.errorMessage?.contains("NOPERM") == true, "\(refused)")
      await limited.close()
      server.signal(SIGTERM)
      #expect(await server.wait() == 0, "\(server.stderr)")
    }
  }

  @Test func metricsAfterARunShowItsStepsAndCostAndLogsAreJSONWithRunMetadata() async throws {
    try await withTestRedis { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let metricsSocket = directory.appending("metrics.sock")
      let marker = "INPUT-CONTENT-7f3a"
      try await ServeProcess.withServe(
        redis: redis, yaml: researchYAML(record: "/dev/null"), directory: directory,
        extraArguments: ["--metrics-address", metricsSocket, "--log-format", "json", "--log-level", "info"]
      ) { socket, server in
        let start = try await ChildProcess.run(
          ["start", "research", "--id", "m-1", "--input", #"{"secret":"\#(marker)"}"#, "--socket", socket], in: directory)
        #expect(start.status == 3, "\(start.stdout) \(start.stderr)")
        let resume = try await ChildProcess.run(["resume", "m-1", "--socket", socket], in: directory)
        #expect(resume.status == 0, "\(resume.stdout) \(resume.stderr)")

        let watch = try await ChildProcess.run(["watch", "m-1", "--socket", socket], in: directory)
        #expect(watch.status == 0, "\(watch.stdout) \(watch.stderr)")

        let scrape = try await Self.httpGet("/metrics", unixSocket: metricsSocket)
        #expect(scrape.hasPrefix("HTTP/1.1 200 OK"), "\(scrape.prefix(200))")
        #expect(scrape.contains("Content-Type: text/plain; version=0.0.4"))
        let samples = Self.samples(scrape)
        for step in ["search", "extract", "outline", "verify"] {
          #expect(samples[#"resumable_step_attempts_total{workflow="research",step="\#(step)",plugin="simulate"}"#] == 1)
          #expect(samples[#"resumable_step_commits_total{workflow="research",step="\#(step)"}"#] == 1)
        }
        #expect(samples[#"resumable_step_attempts_total{workflow="research",step="draft",plugin="simulate"}"#] == 2)
        #expect(samples[#"resumable_step_failures_total{workflow="research",step="draft",plugin="simulate"}"#] == 1)
        #expect(samples[#"resumable_step_duration_seconds_count{workflow="research",step="draft",plugin="simulate"}"#] == 2)
        #expect(abs((samples[#"resumable_cost_spent_usd_total{workflow="research"}"#] ?? 0) - 0.6) < 1e-9)
        #expect(abs((samples[#"resumable_cost_saved_by_resume_usd_total{workflow="research"}"#] ?? 0) - 0.3) < 1e-9)
        // Six attempts of 100 input and 50 output tokens; no prompt cache, so no such samples.
        #expect(samples[#"resumable_tokens_total{workflow="research",kind="input"}"#] == 600)
        #expect(samples[#"resumable_tokens_total{workflow="research",kind="output"}"#] == 300)
        #expect(samples[#"resumable_tokens_total{workflow="research",kind="cached_input"}"#] == nil)
        #expect(samples[#"resumable_resumes_total{workflow="research"}"#] == 1)
        #expect(samples[#"resumable_lease_takeovers_total{workflow="research"}"#] == nil, "a FAILED run's resume takes no lease over")
        #expect(samples[#"resumable_rpc_requests_total{method="StartWorkflow",status="OK"}"#] == 1)
        #expect(samples[#"resumable_rpc_requests_total{method="ResumeWorkflow",status="OK"}"#] == 1)
        #expect(samples[#"resumable_rpc_requests_total{method="WatchWorkflow",status="OK"}"#] == 1)
        #expect(samples["resumable_runs_in_flight"] == 0)
        #expect((samples["resumable_redis_round_trip_seconds_count"] ?? 0) > 0)
        let notFound = try await Self.httpGet("/other", unixSocket: metricsSocket)
        #expect(notFound.hasPrefix("HTTP/1.1 404"))

        // Logs: JSON lines; every line about the run names it, with step and attempt where there is one.
        let lines = try Self.jsonLines(server.stderr)
        let aboutTheRun = lines.filter { ($0["workflow_id"] as? String) == "m-1" }
        #expect(Set(aboutTheRun.compactMap { $0["message"] as? String }).isSuperset(of: ["run started", "run resumed"]))
        let failed = try #require(aboutTheRun.first { ($0["message"] as? String)?.hasPrefix("run failed") == true })
        #expect(failed["step"] as? String == "draft")
        #expect(failed["attempt"] as? String == "1")
        #expect(lines.allSatisfy { $0["timestamp"] is String && $0["level"] is String })
        #expect(!server.stderr.contains(marker), "input content logged at info level")
      }
    }
  }

  /// One HTTP/1.1 GET over a Unix socket; the whole response, head and body.
  static func httpGet(_ path: String, unixSocket: String) async throws -> String {
    try await MetricsScrape.httpGet(path, unixSocket: unixSocket)
  }

  /// `name{labels} value` lines of a Prometheus exposition, by `name{labels}`.
  static func samples(_ exposition: String) -> [String: Double] { MetricsScrape.samples(exposition) }
}

extension HardeningCLITests {
  /// Each line of `text` as a JSON object; fails on a line that is not one.
  static func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { line in
      guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        throw TestSupportError("not a JSON object: \(line)")
      }
      return object
    }
  }
}
