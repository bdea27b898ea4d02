import Foundation
import ResumableClient
import ResumableTestSupport
import ResumableWire
import Testing

/// The `worker` plugin and the worker calls, over the real socket against a
/// real Redis, with workers written in Swift on the client library (the
/// Python SDK's tests drive the same server with worker processes).
@Suite("Workers", .timeLimit(.minutes(2)))
struct WorkerTests {
  static let yaml = """
    workflows:
      - name: agent
        steps:
          - {name: search, plugin: worker, inputs: [input]}
          - name: draft
            plugin: worker
            config: {task: write}
            inputs: [search]
            retry: {max_attempts: 3, initial_backoff_ms: 10, max_backoff_ms: 20}
      - name: beating
        steps:
          - name: slow
            plugin: worker
            heartbeat_timeout_ms: 1500
            retry: {max_attempts: 2, initial_backoff_ms: 10, max_backoff_ms: 20}
      - name: bounded
        steps:
          - {name: lonely, plugin: worker, schedule_to_start_ms: 200, retry: {max_attempts: 1}}
      - name: single
        steps:
          - {name: only, plugin: worker}
    """

  /// A worker on its own connection: its feed, read frame by frame.
  final class TestWorker: @unchecked Sendable {
    // Unchecked: each test reads `frames` from its one task only.
    let client: ResumableClient
    var frames: ResumableResponseStream<ConnectWorkerResponse>.AsyncIterator
    let id: String

    init(socketPath: String, tasks: [String], slots: UInt32 = 2) async throws {
      client = try await ResumableClient.connect(socketPath: socketPath)
      frames = client.connectWorker(ConnectWorkerRequest(tasks: tasks, slots: slots, name: "swift-test")).makeAsyncIterator()
      id = try #require(try await frames.next()).workerID
    }

    func nextTask() async throws -> StepTask {
      let frame = try #require(try await frames.next())
      #expect(!frame.task.taskID.isEmpty, "expected a task, got \(frame)")
      return frame.task
    }

    func nextCancellation() async throws -> TaskCancelled {
      let frame = try #require(try await frames.next())
      #expect(!frame.cancelled.taskID.isEmpty, "expected a cancellation, got \(frame)")
      return frame.cancelled
    }

    func complete(_ task: StepTask, _ json: String, costMicros: Int64 = 0) async throws {
      _ = try await client.completeTask(
        CompleteTaskRequest(taskID: task.taskID, artifact: Array(json.utf8), usage: Usage(costMicros: costMicros)))
    }

    func close() async { await client.close() }
  }

  @Test func aWorkerRunsEachAttemptWithItsKeysAndOnlyTheDeclaredInputs() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.yaml) { server in
        let worker = try await TestWorker(socketPath: server.socketPath, tasks: ["search", "write"])
        defer { Task { await worker.close() } }
        try await server.withClient { client in
          _ = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "agent", workflowID: "w-1", inputJSON: #"{"topic":"x"}"#, noWait: true))
          let search = try await worker.nextTask()
          #expect(search.task == "search" && search.step == "search" && search.workflow == "agent")
          #expect(search.attempt == 1 && search.idempotencyKey == "w-1/search/1" && search.stepKey == "w-1/search")
          #expect(search.inputs.map(\.name) == ["input"])
          #expect(String(decoding: search.inputs[0].data, as: UTF8.self) == #"{"topic":"x"}"#)
          try await worker.complete(search, #"{"hits":3}"#, costMicros: 1_000)

          let first = try await worker.nextTask()
          #expect(first.task == "write" && first.step == "draft" && first.configJSON == #"{"task":"write"}"#)
          #expect(first.inputs.map(\.name) == ["search"])  // pruned: not `input`
          _ = try await client.failTask(
            FailTaskRequest(taskID: first.taskID, message: "provider 503", errorClass: .retryable, usage: Usage(costMicros: 500)))
          let second = try await worker.nextTask()
          #expect(second.attempt == 2 && second.idempotencyKey == "w-1/draft/2")
          #expect(second.stepKey == first.stepKey)
          try await worker.complete(second, #""done""#, costMicros: 2_000)

          let state = try await client.state("w-1", includeArtifacts: true, when: { $0.status == .completed })
          #expect(state.steps.map(\.attempts) == [1, 2])
          #expect(state.steps[1].lastError == "provider 503")
          #expect(state.cost.spentMicros == 3_500)
          #expect(state.artifacts.map { String(decoding: $0.data, as: UTF8.self) } == [#"{"hits":3}"#, #""done""#])
          let listed = try await client.listWorkers(ListWorkersRequest()).workers
          #expect(listed.map(\.workerID) == [worker.id])
          #expect(listed.first?.tasks == ["search", "write"] && listed.first?.dispatched == 3 && listed.first?.inFlight == 0)
          #expect(listed.first?.pid == getpid())
        }
      }
    }
  }

  @Test func withNoWorkerTheStepWaitsSpendingNoAttemptUntilOneConnects() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.yaml) { server in
        try await server.withClient { client in
          _ = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "agent", workflowID: "w-2", inputJSON: "{}", noWait: true))
          let waiting = try await client.state("w-2", when: { $0.steps[0].status == .waiting })
          #expect(waiting.steps[0].waitReason == "no worker serves task 'search'")
          #expect(waiting.steps[0].attempts == 0)
          #expect(waiting.status == .running)

          let worker = try await TestWorker(socketPath: server.socketPath, tasks: ["search", "write"])
          defer { Task { await worker.close() } }
          let search = try await worker.nextTask()
          #expect(search.attempt == 1)
          try await worker.complete(search, "1")
          try await worker.complete(try await worker.nextTask(), "2")
          let state = try await client.state("w-2", when: { $0.status == .completed })
          #expect(state.steps.map(\.attempts) == [1, 1])
        }
      }
    }
  }

  @Test func aLostWorkersTaskGoesToAnotherAndItsLateAnswerIsRefused() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.yaml) { server in
        try await server.withClient { client in
          let first = try await TestWorker(socketPath: server.socketPath, tasks: ["search"])
          _ = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "agent", workflowID: "w-3", inputJSON: "{}", noWait: true))
          let lost = try await first.nextTask()
          // A second worker joins, then the first one's connection goes.
          let second = try await TestWorker(socketPath: server.socketPath, tasks: ["search", "write"])
          defer { Task { await second.close() } }
          await first.close()
          let retried = try await second.nextTask()
          #expect(retried.step == "search" && retried.attempt == 2 && retried.stepKey == lost.stepKey)
          // The first worker's answer arrives late, on another connection: refused, not committed.
          let late = await clientError {
            _ = try await client.completeTask(CompleteTaskRequest(taskID: lost.taskID, artifact: Array(#""late""#.utf8)))
          }
          #expect(late?.code == .failedPrecondition)
          #expect(late?.message.contains("disconnected") == true)
          try await second.complete(retried, #""second""#)
          try await second.complete(try await second.nextTask(), "{}")
          let state = try await client.state("w-3", includeArtifacts: true, when: { $0.status == .completed })
          #expect(String(decoding: state.artifacts[0].data, as: UTF8.self) == #""second""#)
          #expect(state.steps[0].lastError.contains("disconnected"))
        }
      }
    }
  }

  @Test func badWorkerCallsGetAStatusAndChangeNothing() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.yaml) { server in
        try await server.withClient { client in
          let unknown = await clientError { _ = try await client.heartbeatTask(HeartbeatTaskRequest(taskID: "nope")) }
          #expect(unknown?.code == .notFound)
          let noSlots = await clientError {
            for try await _ in client.connectWorker(ConnectWorkerRequest(tasks: ["a"], slots: 0)) {}
          }
          #expect(noSlots?.code == .invalidArgument && noSlots?.message.contains("slots") == true)
          let tooMany = await clientError {
            for try await _ in client.connectWorker(ConnectWorkerRequest(tasks: (0...1000).map { "t\($0)" }, slots: 1)) {}
          }
          #expect(tooMany?.code == .invalidArgument && tooMany?.message.contains("1000") == true)
          let noTasks = await clientError {
            for try await _ in client.connectWorker(ConnectWorkerRequest(tasks: [], slots: 1)) {}
          }
          #expect(noTasks?.code == .invalidArgument)
          #expect(try await client.listWorkers(ListWorkersRequest()).workers.isEmpty)

          // An artifact that is not JSON fails the step for good, naming it.
          let worker = try await TestWorker(socketPath: server.socketPath, tasks: ["search"])
          defer { Task { await worker.close() } }
          _ = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "agent", workflowID: "w-4", inputJSON: "{}", noWait: true))
          try await worker.complete(try await worker.nextTask(), "not json")
          let state = try await client.state("w-4", when: { $0.status == .failed })
          #expect(state.steps[0].lastErrorClass == .nonRetryable)
          #expect(state.steps[0].lastError.contains("step 'search'") && state.steps[0].lastError.contains("not JSON"))
        }
      }
    }
  }

  @Test func aWorkerThatStopsHeartbeatingLosesTheAttempt() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.yaml) { server in
        let worker = try await TestWorker(socketPath: server.socketPath, tasks: ["slow"])
        defer { Task { await worker.close() } }
        try await server.withClient { client in
          _ = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "beating", workflowID: "w-5", inputJSON: "{}", noWait: true))
          let silent = try await worker.nextTask()
          #expect(silent.heartbeatTimeoutMs == 1500)
          let cancelled = try await worker.nextCancellation()
          #expect(cancelled.taskID == silent.taskID && cancelled.reason.contains("heartbeat"))
          let refused = await clientError { _ = try await client.heartbeatTask(HeartbeatTaskRequest(taskID: silent.taskID)) }
          #expect(refused?.code == .failedPrecondition)
          let second = try await worker.nextTask()
          #expect(second.attempt == 2)
          _ = try await client.heartbeatTask(HeartbeatTaskRequest(taskID: second.taskID))
          try await worker.complete(second, "{}")
          let state = try await client.state("w-5", when: { $0.status == .completed })
          #expect(state.steps[0].attempts == 2 && state.steps[0].lastError.contains("heartbeat"))
        }
      }
    }
  }

  @Test func cancellingTheRunStopsTheWorkersTaskAndRefusesItsResult() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.yaml) { server in
        let worker = try await TestWorker(socketPath: server.socketPath, tasks: ["search"])
        defer { Task { await worker.close() } }
        try await server.withClient { client in
          _ = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "agent", workflowID: "w-6", inputJSON: "{}", noWait: true))
          let task = try await worker.nextTask()
          _ = try await client.cancelWorkflow(CancelWorkflowRequest(workflowID: "w-6", reason: "enough"))
          let cancelled = try await worker.nextCancellation()
          #expect(cancelled.taskID == task.taskID)
          let late = await clientError { try await worker.complete(task, "{}") }
          #expect(late?.code == .failedPrecondition)
          let state = try await client.getState(GetStateRequest(workflowID: "w-6")).state
          #expect(state.status == .cancelled && state.steps[0].status != .completed)
        }
      }
    }
  }

  @Test func scheduleToStartBoundsTheWaitForAWorker() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.yaml) { server in
        try await server.withClient { client in
          let state = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "bounded", workflowID: "w-7", inputJSON: "{}")).state
          #expect(state.status == .failed)
          #expect(state.steps[0].attempts == 1)
          #expect(state.steps[0].lastError == "no worker serves task 'lonely'")
        }
      }
    }
  }

  /// The feed's frames are written straight onto the connection (the
  /// registration, queued tasks); the last one, at shutdown, through the
  /// stream's writer: it still comes last, and says why.
  @Test func aWorkersFeedGivesItsIdThenItsQueuedTaskAndEndsUnavailableAtShutdown() async throws {
    try await withTestRedis { redis in
      try await withTemporaryDirectory { directory in
        let server = try await ServeProcess.start(
          ServeProcess.arguments(redis: redis, yaml: Self.yaml, keyPrefix: uniqueKeyPrefix(), in: directory),
          name: "w", logLevel: "warning", in: directory)
        var status: Int32 = -1
        do {
          try await server.withClient { client in
            // A task queued before any worker serves it goes out right after the registration.
            _ = try await client.startWorkflow(
              StartWorkflowRequest(workflow: "single", workflowID: "w-feed", inputJSON: "{}", noWait: true))
            _ = try await client.state("w-feed", when: { $0.steps[0].status == .waiting })
            let worker = try await TestWorker(socketPath: server.socket, tasks: ["only"])
            defer { Task { await worker.close() } }
            #expect(worker.id.hasPrefix("w"))
            let task = try await worker.nextTask()
            #expect(task.workflowID == "w-feed" && task.step == "only")
            try await worker.complete(task, "{}")
            _ = try await client.state("w-feed", when: { $0.status == .completed })
            status = await server.stop()
            let ended = await clientError {
              let frame = try await worker.frames.next()
              Issue.record("the feed went on after the shutdown: \(String(describing: frame))")
            }
            #expect(ended?.code == .unavailable, "\(String(describing: ended))")
            #expect(ended?.message.contains("shutting down") == true, "\(String(describing: ended))")
          }
        } catch {
          await server.kill()
          throw error
        }
        #expect(status == 0, "serve exited \(status): \(server.stderr)")
      }
    }
  }

  @Test func aDrainingWorkerFinishesWhatItHoldsAndIsGivenNothingNew() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.yaml) { server in
        let leaving = try await TestWorker(socketPath: server.socketPath, tasks: ["search", "write"])
        try await server.withClient { client in
          _ = try await client.startWorkflow(
            StartWorkflowRequest(workflow: "agent", workflowID: "w-8", inputJSON: "{}", noWait: true))
          let held = try await leaving.nextTask()
          #expect(try await client.drainWorker(DrainWorkerRequest(workerID: leaving.id)).inFlight == 1)
          #expect(try await client.listWorkers(ListWorkersRequest()).workers.first?.draining == true)
          // What it holds is still taken; the next step waits for another worker, spending nothing.
          try await leaving.complete(held, "{}")
          let waiting = try await client.state("w-8", when: { $0.steps[1].status == .waiting })
          #expect(waiting.steps[1].attempts == 0 && waiting.steps[1].waitReason == "no worker serves task 'write'")
          await leaving.close()
          let next = try await TestWorker(socketPath: server.socketPath, tasks: ["write"])
          defer { Task { await next.close() } }
          try await next.complete(try await next.nextTask(), "{}")
          let done = try await client.state("w-8", when: { $0.status == .completed })
          #expect(done.steps.map(\.attempts) == [1, 1])
          let unknown = await clientError { _ = try await client.drainWorker(DrainWorkerRequest(workerID: "nobody")) }
          #expect(unknown?.code == .notFound)
        }
      }
    }
  }
}

extension ResumableClient {
  /// The run's state once `condition` holds (polled; up to 10 s).
  fileprivate func state(_ id: String, includeArtifacts: Bool = false, when condition: @escaping (RunState) -> Bool) async throws -> RunState {
    try await eventually(timeout: .seconds(10)) {
      let state = try await getState(GetStateRequest(workflowID: id, includeArtifacts: includeArtifacts)).state
      guard condition(state) else { throw NotYet(state: state) }
      return state
    }
  }
}

/// A state that does not meet the condition yet (for `eventually`).
private struct NotYet: Error {
  var state: RunState
}
