import Foundation
import ResumableClient
import ResumableRedis
import ResumableTestSupport
import ResumableWire
import Testing

/// `resumable serve --redis redis+cluster://…` against a real 3-master Redis Cluster.
@Suite("Cluster serve")
struct ClusterServeTests {
  /// A ``ServeSetup``-like set-up on a cluster: the directory, record file, prefix and
  /// `--redis`, `--workflows` (written from `yaml` of the record file's path), `--key-prefix`.
  static func withCluster(
    yaml: (String) -> String, _ body: (TestCluster, TemporaryDirectory, RecordFile, String, [String]) async throws -> Void
  ) async throws {
    try await withTestCluster { cluster in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      let prefix = uniqueKeyPrefix()
      let definitions = directory.appending("workflows.yaml")
      try yaml(record.path).write(toFile: definitions, atomically: true, encoding: .utf8)
      try await body(cluster, directory, record, prefix, ["--redis", cluster.url, "--workflows", definitions, "--key-prefix", prefix])
    }
  }

  /// ``withCluster(yaml:_:)`` serving the crash tests' workflow, with a 1 s lease.
  static func withServe(
    middleMs: Int, _ body: (TestCluster, TemporaryDirectory, RecordFile, String, [String]) async throws -> Void
  ) async throws {
    try await withCluster(yaml: { CrashRecoveryTests.yaml(record: $0, middleMs: middleMs) }) { cluster, directory, record, prefix, arguments in
      try await body(cluster, directory, record, prefix, arguments + ServeSetup.fast)
    }
  }

  static func audit(_ ids: [String], via server: ServeProcess, cluster: TestCluster, record: RecordFile, prefix: String)
    async throws -> RunAudit
  {
    let states = try await server.withClient { client in
      var states: [RunState] = []
      for id in ids { states.append(try await client.getState(GetStateRequest(workflowID: id)).state) }
      return states
    }
    let commits = try await RunAudit.commitEvents(address: cluster.address, keyPrefix: prefix, ids: ids)
    return RunAudit(lines: record.lines(), states: states, commits: commits)
  }

  @Test func sixtyRunsOnAllThreeMastersCompleteAndListInOrderAcrossPages() async throws {
    try await Self.withServe(middleMs: 10) { cluster, directory, record, prefix, arguments in
      let server = try await ServeProcess.start(arguments, name: "cluster", logLevel: "warning", in: directory)
      let ids = (1...60).map { "cluster-\($0)" }
      let owners = try await cluster.slotOwners()
      #expect(Set(ids.map { owners[RedisHashSlot.of($0)] }).count == 3, "the runs land on all three masters")
      try await server.withClient { client in
        try await withThrowingTaskGroup(of: Void.self) { group in
          for id in ids {
            group.addTask {
              let started = try await client.startWorkflow(StartWorkflowRequest(workflow: "long", workflowID: id))
              #expect(started.state.status == .completed, "\(id): \(started.state.error)")
            }
          }
          try await group.waitForAll()
        }
        // Pages of 7 across the 16 buckets: every run once, newest first.
        var listed: [RunSummary] = []
        var cursor = ""
        var pages = 0
        repeat {
          let page = try await client.listWorkflows(ListWorkflowsRequest(pageSize: 7, cursor: cursor))
          listed += page.runs
          cursor = page.nextCursor
          pages += 1
        } while !cursor.isEmpty && pages < 20
        #expect(listed.count == ids.count && Set(listed.map(\.workflowID)) == Set(ids))
        #expect(pages == 9, "60 runs in pages of 7, the last one short")
        let ordered = zip(listed, listed.dropFirst()).allSatisfy { newer, older in
          newer.createdAtMs > older.createdAtMs
            || (newer.createdAtMs == older.createdAtMs && Array(older.workflowID.utf8).lexicographicallyPrecedes(Array(newer.workflowID.utf8)))
        }
        #expect(ordered, "newest first, one millisecond's runs by descending id")
      }
      let audit = try await Self.audit(ids, via: server, cluster: cluster, record: record, prefix: prefix)
      #expect(audit.completed == ids.count && audit.violations.isEmpty, "\(audit) \(audit.violations)")
      #expect(await server.stop() == 0, "\(server.stderr)")
    }
  }

  @Test func aServerKilledMidRunIsRecoveredByAnother() async throws {
    try await Self.withServe(middleMs: 4000) { cluster, directory, record, prefix, arguments in
      let doomed = try await ServeProcess.start(arguments + ["--no-recovery"], name: "a", logLevel: "warning", in: directory)
      let survivor = try await ServeProcess.start(arguments, name: "b", logLevel: "notice", in: directory)
      let ids = (1...6).map { "cluster-adopt-\($0)" }
      try await CrashRecoveryTests.startWithoutWaiting(doomed, ids)
      try await eventually(timeout: .seconds(20), interval: .milliseconds(10)) {
        let lines = Set(record.lines())
        guard let missing = ids.first(where: { !lines.contains("\($0) two 1") }) else { return }
        throw TestSupportError("\(missing) has not reached step two")
      }
      await doomed.kill()
      // Nobody calls: the survivor's recovery loop, walking every bucket, finds them.
      try await eventually(timeout: .seconds(30), interval: .milliseconds(50)) {
        try await survivor.withClient { client in
          for id in ids {
            let state = try await client.getState(GetStateRequest(workflowID: id)).state
            guard state.status == .completed else { throw TestSupportError("\(id) is \(state.status.rawValue)") }
          }
        }
      }
      let audit = try await Self.audit(ids, via: survivor, cluster: cluster, record: record, prefix: prefix)
      #expect(audit.violations.isEmpty, "\(audit.violations)")
      #expect(audit.reExecutions == ids.count, "only the interrupted step 'two' ran again: \(audit)")
      #expect(survivor.stderr.contains("recovering a run whose runner stopped"))
      #expect(await survivor.stop() == 0)
    }
  }

  @Test func aPlainRedisURLToAClusterNodeSaysToUseRedisCluster() async throws {
    try await withTestCluster { cluster in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let result = try await ChildProcess.run(
        ["serve", "--socket", directory.appending("s.sock"), "--redis", "redis://127.0.0.1:\(cluster.ports[0])"],
        in: directory)
      #expect(result.status != 0)
      #expect(result.stderr.contains("redis+cluster://"), "\(result.stderr)")
    }
  }

  @Test func aLiveReshardingOf1000SlotsLosesAndRepeatsNothing() async throws {
    try await Self.withServe(middleMs: 1500) { cluster, directory, record, prefix, arguments in
      let metrics = directory.appending("metrics.sock")
      let server = try await ServeProcess.start(
        arguments + ["--metrics-address", metrics], name: "reshard", logLevel: "warning", in: directory)
      // The first 1,000 slots of one master move to another (redis-cli takes them in order):
      // half of the runs live in those slots, half elsewhere.
      let owners = try await cluster.slotOwners()
      let (source, target) = (cluster.ports[0], cluster.ports[1])
      let moving = Set((0..<RedisHashSlot.count).filter { owners[$0] == source }.prefix(1000))
      var ids: [String] = []
      var (inMoving, elsewhere) = (0, 0)
      for n in 0... {
        guard ids.count < 30 else { break }
        let id = "reshard-\(n)"
        if moving.contains(RedisHashSlot.of(id)) {
          guard inMoving < 15 else { continue }
          inMoving += 1
        } else {
          guard elsewhere < 15 else { continue }
          elsewhere += 1
        }
        ids.append(id)
      }
      try await CrashRecoveryTests.startWithoutWaiting(server, ids)
      try await eventually(timeout: .seconds(20), interval: .milliseconds(10)) {
        let lines = Set(record.lines())
        guard let missing = ids.first(where: { !lines.contains("\($0) two 1") }) else { return }
        throw TestSupportError("\(missing) has not reached step two")
      }
      // While every run is in its second step (leases renewed every third of a second).
      let began = ContinuousClock.now
      let reshard = try await ChildProcess.run(
        [
          "--cluster", "reshard", "127.0.0.1:\(source)", "--cluster-from", try await cluster.nodeID(port: source),
          "--cluster-to", try await cluster.nodeID(port: target), "--cluster-slots", "1000", "--cluster-yes",
          "--cluster-pipeline", "1",
        ], executable: try RedisServerProcess.findExecutable(nil, named: "redis-cli"), in: directory)
      #expect(reshard.status == 0, "\(reshard.stdout.suffix(2000)) \(reshard.stderr)")
      let resharded = ContinuousClock.now - began
      try await eventually(timeout: .seconds(30), interval: .milliseconds(50)) {
        try await server.withClient { client in
          for id in ids {
            let state = try await client.getState(GetStateRequest(workflowID: id)).state
            guard state.status == .completed else { throw TestSupportError("\(id) is \(state.status.rawValue)") }
          }
        }
      }
      let after = try await cluster.slotOwners()
      #expect(moving.allSatisfy { after[$0] == target }, "the 1000 slots are the target's now")
      let audit = try await Self.audit(ids, via: server, cluster: cluster, record: record, prefix: prefix)
      #expect(audit.completed == ids.count && audit.violations.isEmpty, "\(audit) \(audit.violations)")
      let samples = MetricsScrape.samples(try await MetricsScrape.httpGet("/metrics", unixSocket: metrics))
      let moved = samples[#"resumable_redis_cluster_redirections_total{kind="moved"}"#] ?? 0
      let asked = samples[#"resumable_redis_cluster_redirections_total{kind="ask"}"#] ?? 0
      print("cluster resharding of 1000 slots took \(resharded) with 30 runs in flight: \(moved) MOVED, \(asked) ASK followed; \(audit)")
      #expect(moved > 0, "runs in the moved slots met MOVED")
      #expect(await server.stop() == 0, "\(server.stderr)")
    }
  }
}
