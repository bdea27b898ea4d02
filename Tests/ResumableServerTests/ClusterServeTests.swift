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
  /// the serve arguments for `yaml`.
  static func withServe(
    middleMs: Int, _ body: (TestCluster, TemporaryDirectory, RecordFile, String, [String]) async throws -> Void
  ) async throws {
    try await withTestCluster { cluster in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      let prefix = uniqueKeyPrefix()
      let definitions = directory.appending("workflows.yaml")
      try CrashRecoveryTests.yaml(record: record.path, middleMs: middleMs).write(toFile: definitions, atomically: true, encoding: .utf8)
      let arguments = ["--redis", cluster.url, "--workflows", definitions, "--key-prefix", prefix] + ServeSetup.fast
      try await body(cluster, directory, record, prefix, arguments)
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
}
