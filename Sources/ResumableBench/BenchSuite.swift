import Foundation
import Logging
import ResumableClient
import ResumableCore
public import ResumableRedis
import ResumableStore
import ResumableWire

/// The default benchmark set of `resumable bench`: for each `appendfsync`
/// policy asked for, it starts a server on its embedded Redis, measures, and
/// stops it. The first policy gets every figure; later ones the figures that
/// depend on write durability (floor, step overhead, resume, throughput).
public struct BenchSuite: Sendable {
  /// Sizes and durations.
  public struct Options: Sendable {
    /// The `resumable` executable to run as the server.
    public var executable: String
    /// The policies to measure, the first in full.
    public var fsync: [RedisServerProcess.Configuration.AppendFsync] = [.always, .everysec]
    /// Measured time per closed-loop load (GetState, throughput).
    public var duration: Duration = .seconds(2)
    /// Warm-up before each closed-loop load.
    public var warmup: Duration = .milliseconds(300)
    /// Runs of the floor (20 commits each).
    public var floorRuns = 100
    /// Runs of 20 (and of 1) no-op steps for the step overhead.
    public var stepRuns = 300
    /// Resumes of each kind.
    public var resumes = 300
    /// Runs of each kind measured by the map fan-out (nil: a tenth of `stepRuns`).
    public var fanOutRuns: Int?
    public var getStateConcurrency = [1, 8, 32]
    public var throughputConcurrency = [1, 8, 32, 128]
    /// The callers of the throughput rows that compare one Redis with a cluster (`runTopologies()`).
    public var topologyConcurrency = [32, 128]
    /// Untimed calls before each timed series (step overhead, resume, floor).
    public var warmupRuns = 20
    /// Runs held in flight for the memory figure.
    public var runsInFlight = 10_000
    /// Runs per step count for the storage figure.
    public var storageRuns = 20
    /// Where the servers' temporary directories go.
    public var temporaryDirectory = "/tmp"
    /// Progress lines go here (standard error by default).
    public var progress: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    public init(executable: String) {
      self.executable = executable
    }

    /// Tiny sizes: checks the whole suite runs, in a few seconds.
    public static func smoke(executable: String) -> Options {
      var options = Options(executable: executable)
      options.fsync = [.everysec]
      options.duration = .milliseconds(200)
      options.warmup = .milliseconds(50)
      options.warmupRuns = 2
      options.floorRuns = 3
      options.stepRuns = 5
      options.resumes = 5
      options.getStateConcurrency = [1, 4]
      options.throughputConcurrency = [1, 4]
      options.topologyConcurrency = [4]
      // Above the server's default --max-runs (256), so the smoke run shows
      // that the memory phase raises it.
      options.runsInFlight = 300
      options.storageRuns = 2
      options.progress = { _ in }
      return options
    }
  }

  public let options: Options

  public init(options: Options) {
    self.options = options
  }

  public func run() async throws -> BenchReport {
    var configurations: [BenchReport.ConfigurationFigures] = []
    var redisVersion = "unknown"
    let loadBefore = MachineInfo.loadAverage()
    for (index, fsync) in options.fsync.enumerated() {
      let directory = try makeDirectory()
      defer { try? FileManager.default.removeItem(atPath: directory) }
      options.progress("starting a server (embedded Redis, appendfsync \(fsync.rawValue)) in \(directory)")
      // Room for the memory phase's runs in flight, beside the loads' (the default --max-runs is 256).
      let server = try await BenchServer.start(
        executable: options.executable, directory: directory, fsync: fsync, maxRuns: max(256, options.runsInFlight + 256))
      let redis = RedisClient(address: server.redisAddress)
      do {
        if index == 0 { redisVersion = try await Self.redisVersion(redis) }
        configurations.append(try await measure(server: server, redis: redis, full: index == 0))
      } catch {
        await redis.close()
        await server.stop()
        throw error
      }
      await redis.close()
      await server.stop()
    }
    var machine = MachineInfo.current(redisVersion: redisVersion)
    machine.loadBefore = loadBefore
    machine.loadAfter = MachineInfo.loadAverage()
    return BenchReport(machine: machine, configurations: configurations)
  }

  func makeDirectory() throws -> String {
    let path = options.temporaryDirectory + "/rbench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    return path
  }

  private func measure(server: BenchServer, redis: RedisClient, full: Bool) async throws -> BenchReport.ConfigurationFigures {
    try await Task.sleep(for: .milliseconds(300))
    let redisPID = try await Self.redisPID(redis)
    let idle = server.residentBytes() ?? 0
    let socket = server.socketPath

    options.progress("the floor: the commit script straight on Redis")
    let (ping, floor) = try await floor(redis: redis)

    options.progress("step overhead: runs of 20 no-op steps")
    let steps = try await stepOverhead(socket: socket, floor: floor)

    options.progress("resume of runs failed at step 4 of 5")
    let resume = try await resumes(socket: socket)

    var getState: [BenchReport.Load] = []
    if full {
      options.progress("GetState at \(options.getStateConcurrency) clients")
      getState = try await getStateLoads(socket: socket, costs: CostProbe(server: server.pid, redis: [(redisPID, redis)]))
    }

    options.progress("5-step runs at \(options.throughputConcurrency) concurrent callers")
    let throughput = try await throughputLoads(socket: socket, costs: CostProbe(server: server.pid, redis: [(redisPID, redis)]))

    var storage: [BenchReport.Storage] = []
    var memory: BenchReport.Memory?
    var workers: BenchReport.WorkerOverhead?
    var fanOut: BenchReport.MapFanOut?
    if full {
      options.progress("worker step overhead: 5 no-op steps in process, through a Swift worker, a Python worker")
      workers = try await workerOverhead(socket: socket, probe: CostProbe(server: server.pid, redis: [(redisPID, redis)]))
      options.progress("map fan-out: 100 items 16 at once against 100 steps in order")
      fanOut = try await mapFanOut(socket: socket, probe: CostProbe(server: server.pid, redis: [(redisPID, redis)]))
      options.progress("storage: bytes per run with 2 KB artifacts")
      storage = try await storagePerRun(socket: socket, redis: redis)
      options.progress("memory: \(options.runsInFlight) runs in flight")
      memory = try await memoryInFlight(server: server, idle: idle)
    }
    return BenchReport.ConfigurationFigures(
      fsync: server.fsync.rawValue, redisPing: ping, floorCommit: floor, stepOverhead: steps, resume: resume,
      getState: getState, throughput: throughput, memory: memory, storage: storage, workerOverhead: workers,
      mapFanOut: fanOut)
  }

  // MARK: - The floor

  /// The store's commit, as the engine calls it after a no-op step, from
  /// this process straight to the server's Redis: runs of the 20-step
  /// workflow created, then committed step by step, each commit timed.
  private func floor(redis: RedisClient) async throws -> (LatencySummary, LatencySummary) {
    var ping = LatencySamples()
    for _ in 0..<max(200, options.floorRuns * 4) {
      let began = ContinuousClock.now
      _ = try await redis.send(["PING"])
      ping.record(.now - began)
    }
    let store = RedisStateStore(client: redis, keyPrefix: "bench-floor")
    let definitions = try DefinitionsFile.parse(BenchWorkflows.yaml(), file: "bench", registry: PluginRegistry.builtIn())
    guard let definition = definitions.first(where: { $0.name == BenchWorkflows.noop20 }) else {
      throw BenchError("the benchmark workflows lack \(BenchWorkflows.noop20)")
    }
    var samples = LatencySamples()
    let warmupRuns = max(1, options.warmupRuns / 4)
    for run in 0..<(warmupRuns + options.floorRuns) {
      let id = "floor-\(run)"
      let first = StepProgress().beginningAttempt(at: Self.nowMs())
      guard
        case .created(let fence) = try await store.create(
          NewRun(workflowID: id, definition: definition, input: Array("null".utf8), firstStep: first, timing: timing()))
      else { throw BenchError("floor run \(id) exists already") }
      var current = first
      for index in definition.steps.indices {
        let name = definition.steps[index].name
        let now = Self.nowMs()
        var done = current
        done.status = .completed
        done.finishedAtMs = now
        let artifact = Array(
          #"{"attempt":1,"inputs":["\#(definition.steps[index].inputs[0])"],"padding":"","step":"\#(name)"}"#.utf8)
        done.artifactBytes = UInt64(artifact.count)
        var next: (name: String, step: StepProgress)?
        if index + 1 < definition.steps.count {
          next = (definition.steps[index + 1].name, StepProgress().beginningAttempt(at: now))
        }
        let commit = StepCommit(
          workflowID: id, fence: fence, cursor: index, stepName: name, artifact: artifact, step: done,
          usage: StepUsage(), next: next, timing: timing())
        let began = ContinuousClock.now
        try await store.commitStep(commit)
        if run >= warmupRuns { samples.record(.now - began) }
        if let next { current = next.step }
      }
      try await store.releaseLease(workflowID: id, fence: fence, runEnded: true)
    }
    return (ping.summary(), samples.summary())
  }

  private func timing() -> WriteTiming {
    WriteTiming(nowMs: Self.nowMs(), ttlMs: 86_400_000, leaseMs: 15_000)
  }

  private static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

  // MARK: - Through the server

  private func stepOverhead(socket: String, floor: LatencySummary) async throws -> BenchReport.StepOverhead {
    try await LoadGenerator.withClients(1, socketPath: socket) { clients in
      try await stepOverhead(client: clients[0], floor: floor)
    }
  }

  /// `count` runs of `workflow`, one after another (after the warm-up runs,
  /// unless `warmup` is false), each timed from start to its COMPLETED answer.
  func timedRuns(
    _ workflow: String, _ count: Int, client: ResumableClient, input: String = "", warmup: Bool = true
  ) async throws -> LatencySamples {
    var samples = LatencySamples()
    let warmupRuns = warmup ? options.warmupRuns : 0
    for index in 0..<(count + warmupRuns) {
      let began = ContinuousClock.now
      let answer = try await client.startWorkflow(StartWorkflowRequest(workflow: workflow, inputJSON: input))
      let elapsed = ContinuousClock.now - began
      guard answer.state.status == .completed else {
        throw BenchError("a run of \(workflow) ended \(answer.state.status): \(answer.state.error)")
      }
      if index >= warmupRuns { samples.record(elapsed) }
    }
    return samples
  }

  private func stepOverhead(client: ResumableClient, floor: LatencySummary) async throws -> BenchReport.StepOverhead {
    func runs(_ workflow: String, _ count: Int) async throws -> LatencySamples {
      try await timedRuns(workflow, count, client: client)
    }
    // Interleaved in blocks, so that both see the same machine load.
    var twenty = LatencySamples()
    var one = LatencySamples()
    let blocks = max(1, options.stepRuns / 50)
    for _ in 0..<blocks {
      twenty.merge(try await runs(BenchWorkflows.noop20, options.stepRuns / blocks))
      one.merge(try await runs(BenchWorkflows.noop1, options.stepRuns / blocks))
    }
    let run20 = twenty.summary()
    let run1 = one.summary()
    let perStep = run20.divided(by: 20)
    let marginal = (run20.p50Micros - run1.p50Micros) / 19
    return BenchReport.StepOverhead(
      perStep: perStep, oneStepRun: run1, marginalPerStepP50Micros: marginal,
      ratioP50: perStep.p50Micros / floor.p50Micros, ratioP99: perStep.p99Micros / floor.p99Micros,
      marginalRatioP50: marginal / floor.p50Micros)
  }

  private func resumes(socket: String) async throws -> BenchReport.Resume {
    try await LoadGenerator.withClients(1, socketPath: socket) { clients in try await resumes(client: clients[0]) }
  }

  private func resumes(client: ResumableClient) async throws -> BenchReport.Resume {
    func failedRuns(_ count: Int) async throws -> [String] {
      var ids: [String] = []
      for _ in 0..<count {
        let answer = try await client.startWorkflow(StartWorkflowRequest(workflow: BenchWorkflows.failAt4))
        guard answer.state.status == .failed, answer.state.currentStepIndex == 3 else {
          throw BenchError("a run of \(BenchWorkflows.failAt4) ended \(answer.state.status) at step \(answer.state.currentStepIndex + 1), not FAILED at step 4")
        }
        ids.append(answer.state.workflowID)
      }
      return ids
    }
    let warmup = options.warmupRuns
    var answered = LatencySamples()
    for (index, id) in try await failedRuns(options.resumes + warmup).enumerated() {
      let began = ContinuousClock.now
      let answer = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: id, noWait: true))
      let elapsed = ContinuousClock.now - began
      guard answer.state.status == .running || answer.state.status == .completed else {
        throw BenchError("a resume of \(id) answered \(answer.state.status)")
      }
      if index >= warmup { answered.record(elapsed) }
      // Untimed: let the run finish before the next resume is timed.
      while try await client.getState(GetStateRequest(workflowID: id)).state.status == .running {
        try await Task.sleep(for: .microseconds(200))
      }
    }
    var completed = LatencySamples()
    for (index, id) in try await failedRuns(options.resumes + warmup).enumerated() {
      let began = ContinuousClock.now
      let answer = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: id))
      let elapsed = ContinuousClock.now - began
      guard answer.state.status == .completed else {
        throw BenchError("a resume of \(id) ended \(answer.state.status): \(answer.state.error)")
      }
      if index >= warmup { completed.record(elapsed) }
    }
    return BenchReport.Resume(answered: answered.summary(), toCompletion: completed.summary())
  }

  func getStateLoads(socket: String, costs: CostProbe) async throws -> [BenchReport.Load] {
    try await LoadGenerator.withClients(options.getStateConcurrency.max() ?? 1, socketPath: socket) { clients in
      try await getStateLoads(clients: clients, costs: costs)
    }
  }

  private func getStateLoads(clients: [ResumableClient], costs: CostProbe) async throws -> [BenchReport.Load] {
    // One completed 5-step run per client, read again and again.
    var ids: [String] = []
    for client in clients {
      let answer = try await client.startWorkflow(StartWorkflowRequest(workflow: BenchWorkflows.noop5))
      ids.append(answer.state.workflowID)
    }
    let runIDs = ids
    return try await loads(options.getStateConcurrency, clients: clients, "GetState", costs: costs) { client, worker in
      _ = try await client.getState(GetStateRequest(workflowID: runIDs[worker]))
    }
  }

  /// The throughput rows: 5-step no-op runs at each of `levels` (default: the options')
  /// concurrent callers, each with its cost per run.
  func throughputLoads(socket: String, costs: CostProbe, levels: [Int]? = nil) async throws -> [BenchReport.Load] {
    let levels = levels ?? options.throughputConcurrency
    return try await LoadGenerator.withClients(levels.max() ?? 1, socketPath: socket) { clients in
      try await throughputLoads(clients: clients, levels: levels, costs: costs)
    }
  }

  private func throughputLoads(clients: [ResumableClient], levels: [Int], costs: CostProbe) async throws
    -> [BenchReport.Load]
  {
    try await loads(levels, clients: clients, "5-step runs", costs: costs) { client, _ in
      let answer = try await client.startWorkflow(StartWorkflowRequest(workflow: BenchWorkflows.noop5))
      guard answer.state.status == .completed else {
        throw BenchError("a run ended \(answer.state.status): \(answer.state.error)")
      }
    }
  }

  /// One closed-loop load per concurrency level, on the first `level` clients.
  /// With `costs`, each load also reports CPU and `EVALSHA` per call,
  /// sampled around the measured window (the warm-up left out).
  private func loads(
    _ levels: [Int], clients: [ResumableClient], _ what: String, costs: CostProbe,
    _ call: @escaping @Sendable (ResumableClient, _ worker: Int) async throws -> Void
  ) async throws -> [BenchReport.Load] {
    var loads: [BenchReport.Load] = []
    for concurrency in levels {
      let samples = CostSamples(costs)
      let result = await LoadGenerator.run(
        clients: Array(clients.prefix(concurrency)), warmup: options.warmup, duration: options.duration,
        window: { opens in await samples.take(opens) }
      ) { client, worker, _ in try await call(client, worker) }
      try check(result, what)
      let cost = await samples.cost(calls: result.latency.count)
      loads.append(
        BenchReport.Load(
          concurrency: concurrency, perSecond: result.perSecond, latency: result.latency.summary(),
          errors: result.errors, cost: cost, firstError: result.firstError))
    }
    return loads
  }

  private func check(_ result: LoadGenerator.Result, _ what: String) throws {
    if result.errors > 0 && result.latency.count == 0 {
      throw BenchError("\(what): every call failed, e.g. \(result.firstError ?? "?")")
    }
    if let first = result.firstError {
      options.progress("\(what): \(result.errors) call(s) failed, e.g. \(first)")
    }
  }

  private func storagePerRun(socket: String, redis: RedisClient) async throws -> [BenchReport.Storage] {
    try await LoadGenerator.withClients(1, socketPath: socket) { clients in
      try await storagePerRun(client: clients[0], redis: redis)
    }
  }

  private func storagePerRun(client: ResumableClient, redis: RedisClient) async throws -> [BenchReport.Storage] {
    let store = RedisStateStore(client: redis)
    var figures: [BenchReport.Storage] = []
    for steps in BenchWorkflows.storageStepCounts {
      var total = 0.0
      // By the last part of the key's name: run, steps, artifacts, events, …
      var perKey: [String: Double] = [:]
      var record = 0.0
      for _ in 0..<options.storageRuns {
        let answer = try await client.startWorkflow(
          StartWorkflowRequest(workflow: BenchWorkflows.artifacts(steps: steps)))
        guard answer.state.status == .completed else {
          throw BenchError("a run of \(steps) steps ended \(answer.state.status): \(answer.state.error)")
        }
        let keys = store.keyNames(workflowID: answer.state.workflowID)
        let replies = try await redis.pipeline(
          keys.map { ["MEMORY", "USAGE", RedisArgument($0), "SAMPLES", "0"] }
            + [["HSTRLEN", RedisArgument(keys[1]), "s1"]])
        for (key, reply) in zip(keys, replies.dropLast()) {
          let bytes = Double(reply.int ?? 0)
          perKey[String(key.split(separator: ":").last ?? ""), default: 0] += bytes
          total += bytes
        }
        record += Double(replies.last?.int ?? 0)
      }
      let runs = Double(options.storageRuns)
      figures.append(
        BenchReport.Storage(
          steps: steps, artifactBytesPerStep: BenchWorkflows.artifactBytes, bytesPerRun: total / runs,
          stepRecordBytes: record / runs, artifactsKeyBytes: (perKey["artifacts"] ?? 0) / runs,
          stepsKeyBytes: (perKey["steps"] ?? 0) / runs, eventsKeyBytes: (perKey["events"] ?? 0) / runs,
          runKeyBytes: (perKey["run"] ?? 0) / runs))
    }
    return figures
  }

  /// Starts `runsInFlight` runs whose first step sleeps a minute, then reads
  /// the server's RSS. Leaves them running: the server is stopped next.
  private func memoryInFlight(server: BenchServer, idle: Int) async throws -> BenchReport.Memory {
    try await Task.sleep(for: .milliseconds(500))
    let idleAfterLoad = server.residentBytes() ?? 0
    try await LoadGenerator.withClients(32, socketPath: server.socketPath) { clients in
      try await LoadGenerator.forEach(options.runsInFlight, concurrency: 32, clients: clients) { client, _ in
        let answer = try await client.startWorkflow(
          StartWorkflowRequest(workflow: BenchWorkflows.sleeping, noWait: true))
        guard answer.state.status == .running else {
          throw BenchError("a sleeping run answered \(answer.state.status)")
        }
      }
    }
    try await Task.sleep(for: .milliseconds(500))
    let inFlight = server.residentBytes() ?? 0
    return BenchReport.Memory(
      idleBytes: idle, idleAfterLoadBytes: idleAfterLoad, inFlightBytes: inFlight,
      runsInFlight: options.runsInFlight, runsDriven: nil)
  }

  static func redisPID(_ redis: RedisClient) async throws -> Int32 {
    let text = try await redis.send(["INFO", "server"]).string ?? ""
    let line = text.split(whereSeparator: \.isNewline).first { $0.hasPrefix("process_id:") }
    guard let pid = line.flatMap({ Int32($0.dropFirst("process_id:".count)) }) else {
      throw BenchError("Redis' INFO server has no process_id")
    }
    return pid
  }

  static func redisVersion(_ redis: RedisClient) async throws -> String {
    let info = try await redis.send(["INFO", "server"])
    let text = info.string ?? ""
    return text.split(whereSeparator: \.isNewline).first { $0.hasPrefix("redis_version:") }
      .map { String($0.dropFirst("redis_version:".count)) } ?? "unknown"
  }
}
