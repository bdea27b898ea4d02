import Foundation
import ResumableClient
import ResumableRedis
import ResumableTestSupport
import ResumableWire
import Testing

/// `resumable serve --redis redis+sentinel://…` through a real failover: the master
/// `SIGKILL`ed while runs are in flight, a sentinel promoting the replica.
@Suite("Sentinel failover")
struct SentinelFailoverTests {
  /// With `--redis-wait-replicas 1` every run completes and the audit is clean. With 0 the
  /// test checks that every run completes and reports the audit without asserting it: a
  /// write acknowledged within the replication lag before the SIGKILL may be lost.
  @Test(arguments: [1, 0])
  func everyRunCompletesAcrossAFailover(waitReplicas: Int) async throws {
    let began = ContinuousClock.now
    try await withTestSentinel { sentinel in
      print("sentinel set-up: \(ContinuousClock.now - began)")
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      let prefix = uniqueKeyPrefix()
      let definitions = directory.appending("workflows.yaml")
      try CrashRecoveryTests.yaml(record: record.path, middleMs: 1000).write(toFile: definitions, atomically: true, encoding: .utf8)
      let server = try await ServeProcess.start(
        ["--redis", sentinel.url, "--workflows", definitions, "--key-prefix", prefix, "--redis-wait-replicas", String(waitReplicas)]
          + ServeSetup.fast,
        name: "sentinel", logLevel: "warning", in: directory)
      do {
        try await Self.failOver(sentinel, server: server, record: record, prefix: prefix, waitReplicas: waitReplicas)
      } catch {
        // A failure leaves no server behind (it would outlive the test).
        await server.kill()
        throw error
      }
    }
  }

  static func failOver(
    _ sentinel: TestSentinel, server: ServeProcess, record: RecordFile, prefix: String, waitReplicas: Int
  ) async throws {
    do {
      let ids = (1...30).map { "failover-\($0)" }
      // A start whose write no replica acknowledged in time (a loaded machine) is answered
      // UNAVAILABLE: tried again with USE_EXISTING, as a client should.
      for id in ids {
        try await eventually(timeout: .seconds(20), interval: .milliseconds(30)) {
          _ = try await server.withClient { client in
            try await client.startWorkflow(StartWorkflowRequest(workflow: "long", workflowID: id, noWait: true, onConflict: .useExisting))
          }
        }
      }
      let started = ContinuousClock.now
      // Every run is in its long middle step, its first step committed on both nodes.
      try await eventually(timeout: .seconds(20), interval: .milliseconds(10)) {
        let lines = Set(record.lines())
        guard let missing = ids.first(where: { !lines.contains("\($0) two 1") }) else { return }
        throw TestSupportError("\(missing) has not reached step two")
      }

      print("sentinel failover: 30 runs reached their second step \(ContinuousClock.now - started) after they were started")
      await sentinel.master.kill()
      let killed = ContinuousClock.now
      try await sentinel.waitForFailover()
      let promoted = ContinuousClock.now - killed
      // The old master comes back as the new master's replica, as an operator (or, within
      // about 10 s, the sentinels) would make it: until then no write has the replica it
      // waits for, and runs wait (UNAVAILABLE).
      if waitReplicas > 0 { try await sentinel.restartOldMasterAsReplica() }
      try await eventually(timeout: .seconds(90), interval: .milliseconds(100)) {
        try await server.withClient { client in
          for id in ids {
            let state = try await client.getState(GetStateRequest(workflowID: id)).state
            guard state.status == .completed else {
              throw TestSupportError("\(id) is \(state.status.rawValue) at '\(state.currentStep)' \(state.error)")
            }
          }
        }
      }
      print("sentinel failover, --redis-wait-replicas \(waitReplicas): replica promoted \(promoted) after the SIGKILL, all \(ids.count) runs completed \(ContinuousClock.now - killed) after it")

      let states = try await server.withClient { client in
        var states: [RunState] = []
        for id in ids { states.append(try await client.getState(GetStateRequest(workflowID: id)).state) }
        return states
      }
      let commits = try await RunAudit.commitEvents(address: sentinel.address, keyPrefix: prefix, ids: ids)
      let audit = RunAudit(lines: record.lines(), states: states, commits: commits)
      print("sentinel failover audit, --redis-wait-replicas \(waitReplicas): \(audit) \(audit.violations.prefix(5))")
      #expect(audit.completed == ids.count, "\(audit.incomplete)")
      if waitReplicas > 0 { #expect(audit.violations.isEmpty, "\(audit.violations)") }
      // The replica was promoted (waitForFailover); on a loaded machine the sentinels may
      // since have promoted the restarted old master back, which the server follows too.
      #expect([sentinel.replicaPort, sentinel.masterPort].contains(try await sentinel.currentMasterPort()))
      #expect(await server.stop() == 0, "\(server.stderr)")
    }
  }

  static let password = "pw-Sv4-never-shown"

  /// A deployment whose every process requires a password: `serve` reads it from
  /// `--redis-password-file`, sends it to the sentinels too, and runs complete. A wrong one
  /// is logged saying what to configure, and never shown.
  @Test func aPasswordProtectedDeploymentIsServedWithThePasswordFile() async throws {
    try await withTestSentinel(password: Self.password) { sentinel in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let passwordFile = directory.appending("redis-password")
      try (Self.password + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
      let definitions = directory.appending("workflows.yaml")
      try researchYAML(record: "/dev/null").write(toFile: definitions, atomically: true, encoding: .utf8)
      let arguments = ["--redis", sentinel.url, "--workflows", definitions, "--key-prefix", uniqueKeyPrefix()]
      let server = try await ServeProcess.start(
        arguments + ["--redis-password-file", passwordFile], name: "auth", logLevel: "warning", in: directory)
      do {
        let state = try await server.withClient { client in
          try await client.startWorkflow(StartWorkflowRequest(workflow: "echo", inputJSON: "2")).state
        }
        #expect(state.status == .completed, "\(state.error)")
      } catch {
        await server.kill()
        throw error
      }
      #expect(await server.stop() == 0, "\(server.stderr)")

      let wrong = try ChildProcess(
        ["serve", "--socket", directory.appending("wrong.sock"), "--log-level", "warning"] + arguments,
        environment: ["RESUMABLE_REDIS_PASSWORD": "Wrong-pw-81"], in: directory)
      let said = try? await eventually(timeout: .seconds(20)) {
        guard wrong.stderr.contains("refused the credentials given for the master") else {
          throw TestSupportError("no refusal logged yet: \(wrong.stderr)")
        }
        return wrong.stderr
      }
      wrong.signal(SIGKILL)
      _ = await wrong.wait()
      #expect(said?.contains("configure the sentinels with the same (requirepass") == true, "\(wrong.stderr)")
      #expect(!wrong.stderr.contains("Wrong-pw-81") && !wrong.stderr.contains(Self.password))
    }
  }
}
