import Foundation
import ResumableClient
import ResumableRedis
import ResumableTestSupport
import ResumableWire
import Testing

/// The fault-injection suite: many runs of a multi-step workflow while the
/// harness `SIGKILL`s servers and starts them again, and kills and restarts
/// Redis. Afterwards every run must be COMPLETED and the audit (record file +
/// stored step records + commit events) must find no violation.
///
/// `make test` runs a bounded size; `make chaos` sets `RESUMABLE_CHAOS=full`.
/// `RESUMABLE_CHAOS_TOPOLOGY=cluster` runs the first test on a 3-master Redis Cluster
/// (`make chaos-cluster`), killing and freezing its masters in turn.
@Suite("Chaos")
struct ChaosTests {
  struct Scale: CustomStringConvertible {
    var runs: Int
    var servers: Int
    var serverKills: Int
    var redisKills: Int
    var steps: Int
    var stepLatencyMs: Int
    /// Time between two kills.
    var killEveryMs: Int

    static let bounded = Scale(runs: 24, servers: 2, serverKills: 4, redisKills: 1, steps: 4, stepLatencyMs: 150, killEveryMs: 700)
    static let full = Scale(runs: 400, servers: 3, serverKills: 40, redisKills: 3, steps: 5, stepLatencyMs: 120, killEveryMs: 600)

    static var current: Scale {
      ProcessInfo.processInfo.environment["RESUMABLE_CHAOS"] == "full" ? .full : .bounded
    }

    var description: String {
      "\(runs) runs of \(steps) steps (\(stepLatencyMs) ms each) on \(servers) servers, \(serverKills) server kills, \(redisKills) Redis kills"
    }
  }

  static func yaml(record: String, scale: Scale) -> String {
    var text = "workflows:\n  - name: chaos\n    steps:\n"
    for index in 1...scale.steps {
      let inputs = index == 1 ? "input" : "s\(index - 1)"
      text += "      - {name: s\(index), plugin: simulate, inputs: [\(inputs)], config: {latency_ms: \(scale.stepLatencyMs), cost_usd: 0.01, artifact_bytes: 512, record: \(record)}}\n"
    }
    // The same number of executions as a parallel run: a first step, then a map
    // of the others, two at a time (each item committed on its own).
    let config = "{latency_ms: \(scale.stepLatencyMs), cost_usd: 0.01, artifact_bytes: 512, record: \(record)}"
    text += "  - name: chaos-map\n    parallel: true\n    steps:\n"
    text += "      - {name: s1, plugin: simulate, inputs: [input], config: \(config)}\n"
    text += "      - {name: m, plugin: simulate, inputs: [input, s1], map: {over: input.list, max_parallel: 2}, config: \(config)}\n"
    return text
  }

  /// Where the chaos runs keep their state: one Redis, or (`RESUMABLE_CHAOS_TOPOLOGY=cluster`)
  /// a 3-master Redis Cluster; the nodes are what the harness kills and freezes.
  struct ChaosStore {
    var topology: String
    var nodes: [RedisServerProcess]
    var address: RedisAddress
    var directory: TemporaryDirectory
    var record: RecordFile
    var prefix: String
    /// `--redis`, `--workflows`, `--key-prefix`.
    var arguments: [String]
  }

  static func withStore(_ scale: Scale, _ body: (ChaosStore) async throws -> Void) async throws {
    guard ProcessInfo.processInfo.environment["RESUMABLE_CHAOS_TOPOLOGY"] == "cluster" else {
      try await ServeSetup.with(yaml: { Self.yaml(record: $0, scale: scale) }) { setup in
        try await body(
          ChaosStore(
            topology: "one Redis", nodes: [setup.redis.server], address: setup.redis.address, directory: setup.directory,
            record: setup.record, prefix: setup.prefix, arguments: setup.arguments))
      }
      return
    }
    try await ClusterServeTests.withCluster(yaml: { Self.yaml(record: $0, scale: scale) }) { cluster, directory, record, prefix, arguments in
      try await body(
        ChaosStore(
          topology: "3-master cluster", nodes: cluster.nodes, address: cluster.address, directory: directory,
          record: record, prefix: prefix, arguments: arguments))
    }
  }

  /// Every third run is of the parallel workflow with its map.
  static func start(_ index: Int, id: String, scale: Scale) -> StartWorkflowRequest {
    guard index % 3 == 2 else {
      return StartWorkflowRequest(workflow: "chaos", workflowID: id, inputJSON: "{\"n\":\(index)}", noWait: true, onConflict: .useExisting)
    }
    let list = (1..<scale.steps).map(String.init).joined(separator: ",")
    return StartWorkflowRequest(
      workflow: "chaos-map", workflowID: id, inputJSON: "{\"n\":\(index),\"list\":[\(list)]}", noWait: true,
      onConflict: .useExisting)
  }

  @Test func serversAndRedisKilledWhileRunsAreInFlight() async throws {
    let scale = Scale.current
    try await Self.withStore(scale) { store in
      let (record, prefix) = (store.record, store.prefix)
      let arguments = store.arguments + ["--lease-seconds", "1", "--recovery-interval", "0.1", "--grace-seconds", "1"]
      var servers: [ServeProcess] = []
      for index in 0..<scale.servers {
        servers.append(try await ServeProcess.start(arguments, name: "chaos\(index)", logLevel: "warning", in: store.directory))
      }
      let ids = (0..<scale.runs).map { "chaos-\($0)" }
      let fleet = servers

      // Starts spread over the first kills, each retried on the next server
      // (with USE_EXISTING, so a start whose answer was lost is not repeated).
      async let started: Int = {
        var created = 0
        for (index, id) in ids.enumerated() {
          var attempt = index
          while true {
            let server = fleet[attempt % fleet.count]
            attempt += 1
            let response = try? await server.withClient { client in
              try await client.startWorkflow(Self.start(index, id: id, scale: scale))
            }
            if let response {
              if response.created { created += 1 }
              break
            }
            try await Task.sleep(for: .milliseconds(30))
          }
          try await Task.sleep(for: .milliseconds(max(1, scale.killEveryMs * scale.serverKills / 2 / scale.runs)))
        }
        return created
      }()

      // The killer: SIGKILL a server, start it again; now and then Redis too,
      // and once Redis is frozen (SIGSTOP) for 5 s: every call meanwhile gets
      // a deadline, not a hang.
      var redisKills = 0
      var redisFrozen = false
      let freezeAt = scale.serverKills / 2
      let redisKillAt = Set((1...max(1, scale.redisKills)).map { $0 * scale.serverKills / (scale.redisKills + 1) })
      for kill in 0..<scale.serverKills {
        try await Task.sleep(for: .milliseconds(scale.killEveryMs))
        let victim = fleet[kill % fleet.count]
        await victim.kill()
        if redisKills < scale.redisKills, redisKillAt.contains(kill) {
          // On a cluster, each time another master (its slots unserved until it is back).
          let node = store.nodes[redisKills % store.nodes.count]
          await node.kill()
          redisKills += 1
          try await Task.sleep(for: .milliseconds(400))
          try await node.start()
        }
        if !redisFrozen, kill == freezeAt, let pid = store.nodes[0].pid {
          redisFrozen = true
          Foundation.kill(pid, SIGSTOP)
          try await Task.sleep(for: .seconds(5))
          Foundation.kill(pid, SIGCONT)
        }
        try await Task.sleep(for: .milliseconds(100))
        try await victim.restart()
      }
      let created = try await started

      // Every run finishes, on whichever servers are left.
      let states = try await eventually(timeout: .seconds(scale.runs > 100 ? 300 : 90), interval: .milliseconds(200)) {
        try await fleet[0].withClient { client in
          var states: [RunState] = []
          for id in ids {
            let state = try await client.getState(GetStateRequest(workflowID: id, includeItems: true)).state
            guard state.status == .completed else {
              throw TestSupportError("\(id) is \(state.status.rawValue) at '\(state.currentStep)' \(state.error)")
            }
            states.append(state)
          }
          return states
        }
      }
      let commits = try await RunAudit.commitEvents(address: store.address, keyPrefix: prefix, ids: ids)
      let audit = RunAudit(lines: record.lines(), states: states, commits: commits)
      print(
        "chaos (\(scale), \(store.topology)): runs=\(audit.runs) created=\(created) server_kills=\(scale.serverKills) redis_kills=\(redisKills) step_executions=\(audit.executions) re_executions_of_interrupted_steps=\(audit.reExecutions) violations=\(audit.violations.count)"
      )
      // A start whose answer was lost to a kill created its run without the harness
      // learning it; the retry (USE_EXISTING) then found it. So at most one creation per id
      // is seen, and every run exists (the audit below reads each one).
      #expect(created <= scale.runs && created > 0, "\(created) creations seen for \(scale.runs) ids")
      #expect(audit.completed == scale.runs && audit.incomplete.isEmpty, "\(audit.incomplete)")
      #expect(audit.violations.isEmpty, "\(audit.violations.prefix(20))")
      #expect(audit.executions == scale.runs * scale.steps + audit.reExecutions)
      // No double charge: what a run spent is the sum of its attempts' costs,
      // and here (no attempt fails) exactly one commit of each step.
      let overcharged = states.filter { state in
        // A map step's usage is its items' (charged item by item): counted once, from the items.
        state.cost.spentMicros
          != (state.steps.filter { $0.itemsTotal == 0 } + state.items).reduce(0) { $0 + $1.usage.costMicros }
          || state.cost.spentMicros != Int64(scale.steps) * 10_000
      }
      #expect(overcharged.isEmpty, "\(overcharged.prefix(5).map { "\($0.workflowID): spent \($0.cost.spentMicros)" })")
      #expect(redisFrozen)
      for server in fleet { #expect(await server.stop() == 0, "\(server.stderr.suffix(2000))") }
    }
  }

  /// A server on its embedded Redis is SIGKILLed mid-run, again and again, and
  /// started again on the same data directory: its Redis dies with it (no
  /// orphan, no second Redis on one append-only file), and every run completes
  /// with no step repeated, none committed twice, nothing charged twice.
  @Test func aServerOnItsEmbeddedRedisKilledWhileRunsAreInFlight() async throws {
    let scale = Scale.current
    let runs = max(6, scale.runs / 4)
    let directory = try await TemporaryDirectory.create()
    defer { Task { await directory.remove() } }
    let record = RecordFile(in: directory)
    let prefix = uniqueKeyPrefix()
    let dataDirectory = directory.appending("data")
    let definitions = directory.appending("workflows.yaml")
    try Self.yaml(record: record.path, scale: scale).write(toFile: definitions, atomically: true, encoding: .utf8)
    let arguments = [
      "--workflows", definitions, "--key-prefix", prefix, "--data-dir", dataDirectory, "--lease-seconds", "1",
      "--recovery-interval", "0.1", "--grace-seconds", "1",
    ]
    let server = try await ServeProcess.start(arguments, name: "embedded", logLevel: "warning", in: directory)
    let ids = (0..<runs).map { "embedded-\($0)" }
    for (index, id) in ids.enumerated() {
      try await eventually(timeout: .seconds(30)) {
        try await server.withClient { client in
          _ = try await client.startWorkflow(Self.start(index, id: id, scale: scale))
        }
      }
      if index % 3 == 2 {
        await server.kill()
        // The killed server's Redis goes with it (it must not linger beside the next one).
        try await eventually(timeout: .seconds(10)) {
          let left = Self.redisServers(onDataDirectory: dataDirectory)
          guard left.isEmpty else { throw TestSupportError("redis-server \(left) outlived its server") }
        }
        try await server.restart()
        #expect(Self.redisServers(onDataDirectory: dataDirectory).count <= 1)
      }
    }
    let states = try await eventually(timeout: .seconds(90), interval: .milliseconds(200)) {
      try await server.withClient { client in
        try await ids.asyncMap { id in
          let state = try await client.getState(GetStateRequest(workflowID: id, includeItems: true)).state
          guard state.status == .completed else { throw TestSupportError("\(id) is \(state.status.rawValue)") }
          return state
        }
      }
    }
    let address = RedisAddress.unixDomainSocket(path: RedisServerProcess.Configuration(dataDirectory: dataDirectory).socketPath)
    let commits = try await RunAudit.commitEvents(address: address, keyPrefix: prefix, ids: ids)
    let audit = RunAudit(lines: record.lines(), states: states, commits: commits)
    print("chaos, embedded Redis: \(audit)")
    #expect(audit.completed == runs && audit.violations.isEmpty, "\(audit.violations.prefix(20))")
    #expect(states.allSatisfy { $0.cost.spentMicros == Int64(scale.steps) * 10_000 })
    #expect(await server.stop() == 0, "\(server.stderr.suffix(2000))")
    // Stopped cleanly: no redis-server is left on the data directory.
    let client = RedisClient(address: address)
    defer { Task { await client.close() } }
    await #expect(throws: RedisError.self) { _ = try await client.send(["PING"]) }
    #expect(Self.redisServers(onDataDirectory: dataDirectory).isEmpty)
  }

  /// The pids of the `redis-server` processes working in `directory` (Redis
  /// changes into its `--dir`; its command line is rewritten, so not read).
  static func redisServers(onDataDirectory directory: String) -> [Int32] {
    let target = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> Int32? in
      guard let pid = Int32(entry),
        let name = try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8),
        name.hasPrefix("redis-server"),
        let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/cwd"),
        cwd == target
      else { return nil }
      return pid
    }
  }
}

extension Array {
  /// `transform` of each element, in order, one after the other.
  func asyncMap<T>(_ transform: (Element) async throws -> T) async throws -> [T] {
    var result: [T] = []
    result.reserveCapacity(count)
    for element in self { result.append(try await transform(element)) }
    return result
  }
}
