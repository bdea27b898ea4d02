import Foundation
import ResumableClient
import ResumableWire

/// The worker step overhead: the same 5 no-op steps run in process
/// (`simulate`) and by a worker over the socket, interleaved in blocks so both
/// see the same machine load; the difference of the run p50s over 5 is what a
/// worker adds to a step. The server's CPU time is counted around each block
/// (and the Python worker process's around its blocks): CPU per step holds on
/// a noisy machine where the p50s swing by tens of microseconds.
extension BenchSuite {
  /// Only the worker step overhead (`resumable bench workers`), on a server
  /// of its own under the first `appendfsync` policy asked for.
  public func runWorkerOverhead() async throws -> (fsync: String, figures: BenchReport.WorkerOverhead) {
    try await onOwnServer { server, probe in
      options.progress("worker step overhead: 5 no-op steps in process, through a Swift worker, a Python worker")
      return try await workerOverhead(socket: server.socketPath, probe: probe)
    }
  }

  func workerOverhead(socket: String, probe: CostProbe) async throws -> BenchReport.WorkerOverhead {
    try await LoadGenerator.withClients(1, socketPath: socket) { clients in
      let client = clients[0]
      let swift = try await withSwiftWorker(socket: socket, client: client) {
        try await interleaved(client: client, probe: probe)
      }
      var python: Interleaved?
      var skipped: String?
      do {
        python = try await withPythonWorker(socket: socket, client: client) { process in
          try await interleaved(client: client, probe: probe, workerProcess: process)
        }
      } catch let error as PythonWorkerUnavailable {
        skipped = error.reason
        options.progress("  Python worker skipped: \(error.reason)")
      }
      return BenchReport.WorkerOverhead(
        inProcessRun: swift.inProcess, swiftWorkerRun: swift.worker, pythonWorkerRun: python?.worker,
        pythonSkipped: skipped,
        swiftPerStepP50Micros: (swift.worker.p50Micros - swift.inProcess.p50Micros) / 5,
        pythonPerStepP50Micros: python.map { ($0.worker.p50Micros - $0.inProcess.p50Micros) / 5 },
        inProcessServerCpuPerStepMicros: swift.inProcessServerCPUPerStep,
        swiftWorkerServerCpuPerStepMicros: swift.workerServerCPUPerStep,
        pythonWorkerServerCpuPerStepMicros: python?.workerServerCPUPerStep,
        pythonWorkerProcessCpuPerStepMicros: python?.workerProcessCPUPerStep)
    }
  }

  /// What one pass of interleaved blocks measured.
  struct Interleaved: Sendable {
    var inProcess: LatencySummary
    var worker: LatencySummary
    /// The server's CPU time per step, in the in-process blocks and in the worker blocks.
    var inProcessServerCPUPerStep: Double
    var workerServerCPUPerStep: Double
    /// The worker process's CPU time per step, when the worker is a process of its own.
    var workerProcessCPUPerStep: Double?
  }

  /// In-process runs and worker runs, in alternating blocks, the server's CPU
  /// time (and `workerProcess`'s) counted around each block.
  private func interleaved(client: ResumableClient, probe: CostProbe, workerProcess: Int32? = nil) async throws
    -> Interleaved
  {
    var inProcess = (samples: LatencySamples(), cost: CostTotal())
    var worker = (samples: LatencySamples(), cost: CostTotal(), processMicros: 0.0)
    let blocks = max(1, options.stepRuns / 50)
    for _ in 0..<blocks {
      var before = try await CostSample.take(probe)
      inProcess.samples.merge(try await timedRuns(BenchWorkflows.noop5, options.stepRuns / blocks, client: client))
      inProcess.cost.add(from: before, to: try await CostSample.take(probe))
      let processBefore = workerProcess.flatMap { CostSample.cpuMicros(pid: $0) }
      before = try await CostSample.take(probe)
      worker.samples.merge(try await timedRuns(BenchWorkflows.worker5, options.stepRuns / blocks, client: client))
      worker.cost.add(from: before, to: try await CostSample.take(probe))
      if let workerProcess, let processBefore, let processAfter = CostSample.cpuMicros(pid: workerProcess) {
        worker.processMicros += processAfter - processBefore
      }
    }
    // Every block also ran its warm-up runs: they are in the CPU time.
    let steps = blocks * (options.stepRuns / blocks + options.warmupRuns) * 5
    return Interleaved(
      inProcess: inProcess.samples.summary(), worker: worker.samples.summary(),
      inProcessServerCPUPerStep: inProcess.cost.perCall(steps).serverCpuMicrosPerCall,
      workerServerCPUPerStep: worker.cost.perCall(steps).serverCpuMicrosPerCall,
      workerProcessCPUPerStep: workerProcess.map { _ in worker.processMicros / Double(max(1, steps)) })
  }

  /// Runs `body` while a worker written on the Swift client library (its own
  /// connection, in this process) serves the bench's task.
  private func withSwiftWorker<T: Sendable>(
    socket: String, client: ResumableClient, _ body: () async throws -> T
  ) async throws -> T {
    let worker = try await ResumableClient.connect(socketPath: socket)
    do {
      let result = try await withThrowingTaskGroup(of: Void.self) { group in
        let feed = worker.connectWorker(
          ConnectWorkerRequest(tasks: [BenchWorkflows.workerTask], slots: 4, name: "bench-swift"))
        group.addTask(executorPreference: worker.executor) {
          for try await frame in feed where !frame.task.taskID.isEmpty {
            _ = try await worker.completeTask(CompleteTaskRequest(taskID: frame.task.taskID, artifact: Array("{}".utf8)))
          }
        }
        try await waitForWorker(named: "bench-swift", client: client)
        let result = try await body()
        group.cancelAll()
        return result
      }
      await worker.close()
      return result
    } catch {
      await worker.close()
      throw error
    }
  }

  /// Runs `body` (given the worker's process id) while a Python worker process
  /// (the SDK in `clients/python`, found from the working directory) serves the bench's task.
  /// - Throws: `PythonWorkerUnavailable` when Python or the SDK is not there.
  private func withPythonWorker<T: Sendable>(
    socket: String, client: ResumableClient, _ body: (Int32) async throws -> T
  ) async throws -> T {
    let sdk = FileManager.default.currentDirectoryPath + "/clients/python"
    guard FileManager.default.fileExists(atPath: sdk + "/resumable_client/__init__.py") else {
      throw PythonWorkerUnavailable(reason: "no Python SDK at \(sdk) (run the bench from the repository)")
    }
    let venv = sdk + "/.venv/bin/python"
    let python = FileManager.default.isExecutableFile(atPath: venv) ? venv : "/usr/bin/python3"
    let script = """
      import sys
      sys.path.insert(0, sys.argv[1])
      from resumable_client import Worker
      worker = Worker(socket_path=sys.argv[2], concurrency=4, name="bench-python")
      @worker.step("\(BenchWorkflows.workerTask)")
      def noop(ctx, inputs):
          return {}
      worker.run()
      """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = ["-c", script, sdk, socket]
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    do {
      try process.run()
    } catch {
      throw PythonWorkerUnavailable(reason: "cannot start \(python): \(error)")
    }
    defer {
      if process.isRunning { process.terminate() }
      process.waitUntilExit()
    }
    do {
      try await waitForWorker(named: "bench-python", client: client, process: process)
    } catch is PythonWorkerUnavailable {
      let output = String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
      throw PythonWorkerUnavailable(
        reason: "the Python worker did not connect: \(output.split(separator: "\n").last.map(String.init) ?? "no output")")
    }
    return try await body(process.processIdentifier)
  }

  /// Waits (up to 10 s) until a worker named `name` is connected.
  private func waitForWorker(named name: String, client: ResumableClient, process: Process? = nil) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
      if try await client.listWorkers(ListWorkersRequest()).workers.contains(where: { $0.name == name }) { return }
      if let process, !process.isRunning { break }
      try await Task.sleep(for: .milliseconds(20))
    }
    throw PythonWorkerUnavailable(reason: "no worker named \(name) connected within 10 s")
  }
}

/// The Python worker could not be measured, and why.
struct PythonWorkerUnavailable: Error {
  var reason: String
}
