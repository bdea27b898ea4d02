import Foundation
import ResumableClient
import ResumableCore
import ResumableRedis
import ResumableTestSupport
import ResumableWire
import Testing

/// G3, G4, G5 and G7 with real processes and real signals: `resumable serve`
/// processes sharing one Redis, killed (`SIGKILL`), frozen (`SIGSTOP`) and
/// stopped (`SIGTERM`) mid-step.
@Suite("Crash recovery")
struct CrashRecoveryTests {
  /// Three steps; the middle one takes `middleMs`, so a signal can land in it.
  static func yaml(record: String, middleMs: Int = 1500) -> String {
    """
    workflows:
      - name: long
        steps:
          - {name: one, plugin: simulate, config: {latency_ms: 10, cost_usd: 0.1, record: \(record)}}
          - {name: two, plugin: simulate, inputs: [one], config: {latency_ms: \(middleMs), cost_usd: 0.1, record: \(record)}}
          - {name: three, plugin: simulate, inputs: [two], config: {latency_ms: 10, cost_usd: 0.1, record: \(record)}}
    """
  }

  /// A ``ServeSetup`` serving `yaml(record:middleMs:)`.
  static func withSetup(middleMs: Int = 1500, _ body: (ServeSetup) async throws -> Void) async throws {
    try await ServeSetup.with(yaml: { yaml(record: $0, middleMs: middleMs) }, body)
  }

  static func startWithoutWaiting(_ server: ServeProcess, _ ids: [String]) async throws {
    try await server.withClient { client in
      for id in ids {
        let started = try await client.startWorkflow(StartWorkflowRequest(workflow: "long", workflowID: id, noWait: true))
        #expect(started.created)
      }
    }
  }

  @Test func aServerKilledMidStepResumesTheStepAfterRestartAndNothingElse() async throws {
    // A middle step long enough to still be running when the kill lands on a loaded machine.
    try await Self.withSetup(middleMs: 4000) { setup in
      let server = try await setup.serve(ServeSetup.fast, name: "a")
      try await Self.startWithoutWaiting(server, ["k1"])
      try await setup.waitForExecution("k1 two 1")
      await server.kill()
      let killed = ContinuousClock.now
      try await server.restart()
      try await setup.waitForCompletion(["k1"], via: server)
      print("recovery after SIGKILL by the restarted server: \(ContinuousClock.now - killed) (lease 1 s, recovery interval 0.1 s)")
      #expect(setup.record.executions(of: "k1") == ["one": 1, "two": 2, "three": 1])
      let state = try await server.withClient { try await $0.getState(GetStateRequest(workflowID: "k1")).state }
      #expect(state.steps.map(\.attempts) == [1, 2, 1])
      #expect(state.resumes == 1)
      #expect(state.cost.savedByResumeMicros == 100_000, "step one was not paid for again")
      let audit = try await setup.audit(["k1"], via: server)
      #expect(audit.violations.isEmpty, "\(audit.violations)")
      #expect(audit.reExecutions == 1)
      _ = await server.stop()
    }
  }

  @Test func anotherServerAdoptsEveryRunOfAServerThatDied() async throws {
    // A long middle step: all six runs must still be in it when the server is
    // killed, however slowly a loaded machine starts them.
    try await Self.withSetup(middleMs: 4000) { setup in
      let doomed = try await setup.serve(ServeSetup.fast + ["--no-recovery"], name: "a")
      let survivor = try await setup.serve(ServeSetup.fast, name: "b")
      let ids = (1...6).map { "adopt-\($0)" }
      try await Self.startWithoutWaiting(doomed, ids)
      for id in ids { try await setup.waitForExecution("\(id) two 1") }
      await doomed.kill()
      let killed = ContinuousClock.now
      // Nobody calls: the survivor's recovery loop finds and finishes them.
      try await setup.waitForCompletion(ids, via: survivor)
      print("adoption of \(ids.count) runs after SIGKILL: \(ContinuousClock.now - killed) (lease 1 s, step 1.5 s)")
      let audit = try await setup.audit(ids, via: survivor)
      #expect(audit.violations.isEmpty, "\(audit.violations)")
      #expect(audit.reExecutions == ids.count, "only the interrupted step 'two' ran again: \(audit)")
      for id in ids { #expect(setup.record.executions(of: id) == ["one": 1, "two": 2, "three": 1]) }
      #expect(survivor.stderr.contains("recovering a run whose runner stopped"))
      _ = await survivor.stop()
    }
  }

  @Test func aFrozenRunnerCannotCommitAfterItsRunWasAdopted() async throws {
    try await Self.withSetup(middleMs: 3000) { setup in
      let frozen = try await setup.serve(ServeSetup.fast + ["--no-recovery"], name: "a")
      let adopter = try await setup.serve(ServeSetup.fast, name: "b")
      try await Self.startWithoutWaiting(frozen, ["stop-1"])
      try await setup.waitForExecution("stop-1 two 1")
      frozen.signal(SIGSTOP)
      try await setup.waitForCompletion(["stop-1"], via: adopter)
      let adopted = try await adopter.withClient {
        try await $0.getState(GetStateRequest(workflowID: "stop-1", includeArtifacts: true)).state
      }
      // Thawed: its attempt 1 of 'two' ends (its sleep is long over) and it tries to go on.
      frozen.signal(SIGCONT)
      try await eventually(timeout: .seconds(15), interval: .milliseconds(50)) {
        let log = frozen.stderr
        guard log.contains("lease lost during the attempt") || log.contains("write refused") else {
          throw TestSupportError("the thawed runner has not noticed yet: \(log)")
        }
      }
      let after = try await adopter.withClient {
        try await $0.getState(GetStateRequest(workflowID: "stop-1", includeArtifacts: true)).state
      }
      #expect(after == adopted, "the state is the adopter's, untouched by the thawed runner")
      #expect(after.steps.map(\.attempts) == [1, 2, 1])
      let two = try #require(after.artifacts.first { $0.step == "two" })
      #expect(String(decoding: two.data, as: UTF8.self).contains(#""attempt":2"#))
      #expect(setup.record.executions(of: "stop-1") == ["one": 1, "two": 2, "three": 1])
      let audit = try await setup.audit(["stop-1"], via: adopter)
      #expect(audit.violations.isEmpty, "\(audit.violations)")
      #expect(await frozen.stop() == 0)
      _ = await adopter.stop()
    }
  }

  @Test func sigtermReleasesTheLeaseSoAnotherServerTakesTheRunAtOnce() async throws {
    try await Self.withSetup(middleMs: 2000) { setup in
      // A lease far longer than the test may wait: only a release lets the run move.
      let slow = ["--lease-seconds", "60", "--recovery-interval", "0.1"]
      let leaving = try await setup.serve(slow + ["--grace-seconds", "0"], name: "a")
      let staying = try await setup.serve(slow, name: "b")
      try await Self.startWithoutWaiting(leaving, ["term-1"])
      try await setup.waitForExecution("term-1 two 1")
      #expect(await leaving.stop() == 0, "\(leaving.stderr)")
      // Released on the way out: gone, or already taken by the other server (a new token).
      let lease = try await setup.redis.withClient { try await $0.send(["GET", RedisArgument("\(setup.prefix):{term-1}:lease")]) }
      #expect(lease.string != "1", "the leaving server's lease (token 1) was released")
      try await setup.waitForCompletion(["term-1"], via: staying, timeout: .seconds(20))
      // Its step outlived the grace period: cancelled, not committed, run again by the other server.
      #expect(setup.record.executions(of: "term-1") == ["one": 1, "two": 2, "three": 1])
      let audit = try await setup.audit(["term-1"], via: staying)
      #expect(audit.violations.isEmpty, "\(audit.violations)")
      _ = await staying.stop()
    }
  }

  @Test func sigtermLetsTheStepInFlightFinishAndCommitWithinTheGracePeriod() async throws {
    try await Self.withSetup(middleMs: 1000) { setup in
      let slow = ["--lease-seconds", "60", "--recovery-interval", "0.1"]
      let leaving = try await setup.serve(slow + ["--grace-seconds", "20"], name: "a")
      let staying = try await setup.serve(slow, name: "b")
      try await Self.startWithoutWaiting(leaving, ["term-2"])
      try await setup.waitForExecution("term-2 two 1")
      #expect(await leaving.stop() == 0, "\(leaving.stderr)")
      try await setup.waitForCompletion(["term-2"], via: staying, timeout: .seconds(20))
      // 'two' finished and committed on the way out; the other server ran only 'three'.
      #expect(setup.record.executions(of: "term-2") == ["one": 1, "two": 1, "three": 1])
      let state = try await staying.withClient { try await $0.getState(GetStateRequest(workflowID: "term-2")).state }
      // Committing 'two' began 'three''s attempt 1 in the same write; the
      // leaving server never ran it, and the adopter ran attempt 2.
      #expect(state.steps.map(\.attempts) == [1, 1, 2])
      #expect(setup.record.lines().contains("term-2 three 2"))
      #expect(state.resumes == 1)
      _ = await staying.stop()
    }
  }

  @Test func startsAndResumesRacingOnTwoServersRunEachStepOnce() async throws {
    try await Self.withSetup(middleMs: 50) { setup in
      let a = try await setup.serve(ServeSetup.fast, name: "a")
      let b = try await setup.serve(ServeSetup.fast, name: "b")
      let ids = (1...15).map { "race-\($0)" }
      let created = try await withThrowingTaskGroup(of: Bool.self) { group in
        for id in ids {
          for server in [a, b, a, b] {
            group.addTask {
              try await server.withClient { client in
                let response = try await client.startWorkflow(
                  StartWorkflowRequest(workflow: "long", workflowID: id, onConflict: .useExisting))
                #expect(response.state.status == .completed)
                return response.created
              }
            }
          }
          for server in [a, b] {
            group.addTask {
              try await server.withClient { client in
                do {
                  let state = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: id)).state
                  #expect(state.status == .completed)
                } catch let error as ResumableClientError where error.code == .notFound {
                  // Asked before any start created it: a clear answer, nothing ran.
                }
                return false
              }
            }
          }
        }
        return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
      }
      #expect(created == ids.count, "exactly one start created each run")
      let audit = try await setup.audit(ids, via: a)
      #expect(audit.violations.isEmpty, "\(audit.violations)")
      #expect(audit.executions == ids.count * 3 && audit.reExecutions == 0, "\(audit)")
      _ = await a.stop()
      _ = await b.stop()
    }
  }

  @Test func redisKilledAndRestartedMidRunLosesNothingAndRunsCarryOn() async throws {
    try await Self.withSetup(middleMs: 600) { setup in
      let server = try await setup.serve(["--lease-seconds", "3", "--recovery-interval", "0.1"], name: "a")
      let ids = (1...4).map { "redis-\($0)" }
      try await Self.startWithoutWaiting(server, ids)
      for id in ids { try await setup.waitForExecution("\(id) two 1") }
      await setup.redis.server.kill()
      // Meanwhile callers get UNAVAILABLE, with a message saying what is wrong.
      let error = try await server.withClient { client in
        await #expect(throws: ResumableClientError.self) {
          _ = try await client.getState(GetStateRequest(workflowID: ids[0]))
        }
      }
      #expect(error?.code == .unavailable, "\(String(describing: error))")
      try await Task.sleep(for: .milliseconds(300))
      try await setup.redis.server.start()
      try await setup.waitForCompletion(ids, via: server)
      let audit = try await setup.audit(ids, via: server)
      #expect(audit.violations.isEmpty, "\(audit.violations)")
      // Step one was committed before the kill (fsync always): it never ran again.
      for id in ids { #expect(setup.record.executions(of: id)["one"] == 1) }
      _ = await server.stop()
    }
  }

  @Test func aServerKilledMidMapLeavesEveryCommittedItemCommittedOnce() async throws {
    let yaml: (String) -> String = { record in
      """
      workflows:
        - name: mapped
          parallel: true
          steps:
            - name: each
              plugin: simulate
              inputs: [input]
              map: {over: input, max_parallel: 4}
              config: {latency_ms: 300, cost_usd: 0.01, record: \(record)}
      """
    }
    try await ServeSetup.with(yaml: yaml) { setup in
      let doomed = try await setup.serve(ServeSetup.fast + ["--no-recovery"], name: "a")
      let survivor = try await setup.serve(ServeSetup.fast, name: "b")
      let input = "[" + (0..<20).map(String.init).joined(separator: ",") + "]"
      try await doomed.withClient { client in
        _ = try await client.startWorkflow(
          StartWorkflowRequest(workflow: "mapped", workflowID: "map-1", inputJSON: input, noWait: true))
      }
      // Item 8 has begun: the commit of one of items 4 to 7 began it (each of the
      // four lanes begins its next item as it commits one), after items 0 to 3.
      try await setup.waitForExecution("map-1 each[8] 1")
      await doomed.kill()
      // What had committed at the kill (the survivor adopts the run only once its 1 s lease lapses).
      let atKill = try await survivor.withClient {
        try await $0.getState(GetStateRequest(workflowID: "map-1", includeItems: true)).state
      }
      let committed = Set(atKill.items.filter { $0.status == .completed }.map(\.name))
      #expect(committed.count >= 5 && (0..<4).allSatisfy { committed.contains("each[\($0)]") }, "\(committed.sorted())")
      try await setup.waitForCompletion(["map-1"], via: survivor)
      let state = try await survivor.withClient {
        try await $0.getState(GetStateRequest(workflowID: "map-1", includeArtifacts: true, includeItems: true)).state
      }
      #expect(state.status == .completed && state.steps[0].itemsCommitted == 20)
      let executions = setup.record.executions(of: "map-1")
      // Each item committed once: it ran once, or twice when the kill interrupted it.
      let twice = executions.filter { $0.value == 2 }.keys.sorted()
      #expect(executions.count == 20 && executions.values.allSatisfy { $0 == 1 || $0 == 2 }, "\(executions)")
      #expect(twice.count <= 4, "only items in flight at the kill ran again: \(twice)")
      #expect(committed.allSatisfy { executions[$0] == 1 }, "committed items did not run again: \(executions)")
      // An attempt begun just before the kill may not have reached its plugin: counted, not run.
      for item in state.items {
        let ran = UInt32(executions[item.name] ?? 0)
        #expect(item.attempts >= ran && item.attempts <= ran + 1, "\(item.name): \(item.attempts) attempts, ran \(ran)")
      }
      let list = try #require(try JSONSerialization.jsonObject(with: Data(state.artifacts[0].data)) as? [[String: Any]])
      #expect(list.map { $0["step"] as? String } == (0..<20).map { "each[\($0)]" })
      _ = await survivor.stop()
    }
  }
}
