import Dispatch
import ResumableCore
import Synchronization
import Testing

/// Where a run at a worker step is driven: on the executor of the worker's
/// feed (its connection's event loop in the server), so that a task and its
/// answer need no hop between threads.
@Suite("Workers: the lane of a worker step")
struct WorkerLaneTests {
  @Test func thePoolNamesTheExecutorOfTheWorkerATaskWouldGoTo() throws {
    let pool = WorkerPool()
    let first = CountingExecutor()
    let second = CountingExecutor()
    #expect(pool.executor(serving: "t") == nil)
    let a = try pool.connect(tasks: ["t"], slots: 1, name: "a", pid: nil, nowMs: 0, executor: first) { _ in }
    #expect(pool.executor(serving: "t") === first)
    #expect(pool.executor(serving: "other") == nil)
    _ = try pool.connect(tasks: ["t"], slots: 1, name: "b", pid: nil, nowMs: 0, executor: second) { _ in }
    _ = try pool.drain(workerID: a.workerID)
    #expect(pool.executor(serving: "t") === second)  // a draining worker is given nothing
    // A worker that said nothing of its executor: no preference.
    _ = try pool.connect(tasks: ["u"], slots: 1, name: "c", pid: nil, nowMs: 0) { _ in }
    #expect(pool.executor(serving: "u") == nil)
  }

  @Test func aRunAtAWorkerStepIsDrivenOnTheWorkersExecutor() async throws {
    let yaml = """
      workflows:
        - name: w
          steps:
            - {name: a, plugin: worker, config: {task: t}}
            - {name: b, plugin: worker, config: {task: t}}
        - name: local
          steps:
            - {name: a, plugin: echo}
      """
    let lane = CountingExecutor()
    try await FastEngineHarness.with(yaml: yaml) { harness in
      let pool = harness.engine.workers
      let (messages, delivered) = AsyncStream.makeStream(of: WorkerMessage.self)
      let feed = try pool.connect(tasks: ["t"], slots: 2, name: "w", pid: nil, nowMs: 0, executor: lane) {
        delivered.yield($0)
      }
      let worker = Task {
        for await message in messages {
          guard case .task(let task) = message else { continue }
          try pool.complete(taskID: task.taskID, output: StepOutput(artifact: Array("{}".utf8)))
        }
      }
      defer {
        worker.cancel()
        pool.disconnect(workerID: feed.workerID)
      }
      let local = try await harness.run("local", id: "local-1")
      #expect(local.status == .completed)
      #expect(lane.jobs == 0)  // a run with no worker step is not driven there
      let done = try await harness.run("w", id: "lane-1")
      #expect(done.status == .completed)
      #expect(lane.jobs > 0)
    }
  }
}

/// A task executor on a queue of its own that counts the jobs it is given.
final class CountingExecutor: TaskExecutor, Sendable {
  private let queue = DispatchQueue(label: "counting-executor")
  private let count = Atomic<Int>(0)

  var jobs: Int { count.load(ordering: .relaxed) }

  func enqueue(_ job: consuming ExecutorJob) {
    count.add(1, ordering: .relaxed)
    let job = UnownedJob(job)
    queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
  }
}
