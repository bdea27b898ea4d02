import Foundation
import ResumableClient
import ResumableWire

/// The worker step overhead: the same 5 no-op steps run in process
/// (`simulate`) and by a worker over the socket, interleaved in blocks so both
/// see the same machine load; the difference of the run p50s over 5 is what a
/// worker adds to a step.
extension BenchSuite {
  /// Only the worker step overhead (`resumable bench workers`), on a server
  /// of its own under the first `appendfsync` policy asked for.
  public func runWorkerOverhead() async throws -> (fsync: String, figures: BenchReport.WorkerOverhead) {
    try await onOwnServer { server, _ in
      options.progress("worker step overhead: 5 no-op steps in process, through a Swift worker, a Python worker")
      return try await workerOverhead(socket: server.socketPath)
    }
  }

  func workerOverhead(socket: String) async throws -> BenchReport.WorkerOverhead {
    try await LoadGenerator.withClients(1, socketPath: socket) { clients in
      let client = clients[0]
      let (inProcess, swift) = try await withSwiftWorker(socket: socket, client: client) {
        try await interleaved(client: client)
      }
      var python: (LatencySummary, LatencySummary)?
      var skipped: String?
      do {
        python = try await withPythonWorker(socket: socket, client: client) { try await interleaved(client: client) }
      } catch let error as PythonWorkerUnavailable {
        skipped = error.reason
        options.progress("  Python worker skipped: \(error.reason)")
      }
      return BenchReport.WorkerOverhead(
        inProcessRun: inProcess, swiftWorkerRun: swift, pythonWorkerRun: python?.1, pythonSkipped: skipped,
        swiftPerStepP50Micros: (swift.p50Micros - inProcess.p50Micros) / 5,
        pythonPerStepP50Micros: python.map { ($0.1.p50Micros - $0.0.p50Micros) / 5 })
    }
  }

  /// In-process runs and worker runs, in alternating blocks.
  private func interleaved(client: ResumableClient) async throws -> (LatencySummary, LatencySummary) {
    var inProcess = LatencySamples()
    var worker = LatencySamples()
    let blocks = max(1, options.stepRuns / 50)
    for _ in 0..<blocks {
      inProcess.merge(try await timedRuns(BenchWorkflows.noop5, options.stepRuns / blocks, client: client))
      worker.merge(try await timedRuns(BenchWorkflows.worker5, options.stepRuns / blocks, client: client))
    }
    return (inProcess.summary(), worker.summary())
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

  /// Runs `body` while a Python worker process (the SDK in `clients/python`,
  /// found from the working directory) serves the bench's task.
  /// - Throws: `PythonWorkerUnavailable` when Python or the SDK is not there.
  private func withPythonWorker<T: Sendable>(
    socket: String, client: ResumableClient, _ body: () async throws -> T
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
    return try await body()
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
