import Foundation
import ResumableClient
import ResumableTestSupport
import ResumableWire
import Testing

/// WatchWorkflow over the real socket, against a real Redis: the stream's
/// shape, bad inputs, shutdown, and a watcher on one server following a run
/// driven by another.
@Suite("WatchWorkflow")
struct WatchWorkflowTests {
  /// The frames of a watch, collected.
  struct Watched {
    var first: WatchWorkflowResponse
    var events: [RunEvent] = []
    var last: WatchWorkflowResponse?
  }

  /// Watches `id` through `client`; `attached` runs once the first frame is in.
  static func watch(
    _ client: ResumableClient, _ id: String, attached: () async throws -> Void = {}
  ) async throws -> Watched {
    var watched: Watched?
    for try await response in client.watchWorkflow(WatchWorkflowRequest(workflowID: id)) {
      if watched == nil {
        #expect(response.event.type.isEmpty, "the first frame carries no event")
        watched = Watched(first: response)
        try await attached()
      } else if response.event.type.isEmpty {
        #expect(watched?.last == nil, "one final frame")
        watched?.last = response
      } else {
        #expect(watched?.last == nil, "no event after the final frame")
        watched?.events.append(response.event)
      }
    }
    return try #require(watched)
  }

  @Test func aWatchOpensWithTheStateThenEventsAndEndsWithTheFinalState() async throws {
    try await withGate { redis, directory, gate in
      try await LiveServer.with(redis: redis, workflows: gatedYAML(gate: gate)) { server in
        try await server.withClient { client in
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "gated", workflowID: "w-1", noWait: true))
          let watched = try await Self.watch(client, "w-1") {
            try FileManager.default.removeItem(atPath: gate)
          }
          #expect(watched.first.state.workflowID == "w-1")
          #expect(watched.first.state.status == .running)
          #expect(watched.first.state.steps.map(\.status).suffix(2) == [.pending, .pending])
          let last = try #require(watched.last)
          #expect(last.state.status == .completed)
          #expect(last.state.steps.map(\.status) == [.completed, .completed, .completed])

          // Nothing missed, nothing twice: each step's commit is seen exactly once.
          let commits = watched.events.filter { $0.type == "step_committed" }
          #expect(commits.map(\.step) == ["wait", "work", "finish"])
          #expect(commits.map(\.status) == [.running, .running, .completed])
          #expect(watched.events.last?.type == "step_committed")
          // Failed attempts carry their error and when the next attempt may start.
          for failure in watched.events where failure.type == "attempt_failed" {
            #expect(failure.step == "wait")
            #expect(failure.message.contains("exists"), "\(failure.message)")
            #expect(failure.nextAttemptAtMs >= failure.atMs)
            #expect(failure.status == .running)
          }
          let attempts = watched.events.filter { $0.type == "attempt_started" }.map(\.attempt)
          #expect(attempts == attempts.sorted() && Set(attempts).count == attempts.count)
          #expect(watched.events.allSatisfy { $0.atMs > 0 })
          #expect(zip(watched.events, watched.events.dropFirst()).allSatisfy { $0.atMs <= $1.atMs })
        }
      }
    }
  }

  @Test func aRunThatHasEndedAnswersWithOneFrame() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: gatedYAML(gate: "/nonexistent")) { server in
        try await server.withClient { client in
          let done = try await client.startWorkflow(StartWorkflowRequest(workflow: "gated", workflowID: "w-done")).state
          #expect(done.status == .completed)
          let watched = try await Self.watch(client, "w-done")
          #expect(watched.first.state.status == .completed)
          #expect(watched.events.isEmpty && watched.last == nil)

          let failed = try await client.startWorkflow(StartWorkflowRequest(workflow: "doomed", workflowID: "w-failed")).state
          #expect(failed.status == .failed)
          let watchedFailure = try await Self.watch(client, "w-failed")
          #expect(watchedFailure.first.state.status == .failed)
          #expect(watchedFailure.first.state.error.isEmpty == false)
        }
      }
    }
  }

  @Test(arguments: [
    ("no-such-run", StatusCode.notFound, "no run with id"),
    ("bad id!", .invalidArgument, "workflow id"),
    ("", .invalidArgument, "empty"),
  ])
  func badInputsEndTheStreamWithAStatus(id: String, code: StatusCode, message: String) async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: gatedYAML(gate: "/nonexistent")) { server in
        try await server.withClient { client in
          do {
            for try await response in client.watchWorkflow(WatchWorkflowRequest(workflowID: id)) {
              Issue.record("unexpected frame \(response)")
            }
            Issue.record("the watch of '\(id)' ended without an error")
          } catch let error as ResumableClientError {
            #expect(error.code == code)
            #expect(error.message.contains(message), "\(error.message)")
          }
          // The connection still serves other calls.
          let other = try await client.startWorkflow(StartWorkflowRequest(workflow: "gated", workflowID: "after"))
          #expect(other.state.status == .completed)
        }
      }
    }
  }

  @Test func onTheWireEveryFrameHasTheRequestIDAndOnlyTheLastEndsTheStream() async throws {
    try await withGate(created: false) { redis, _, gate in
      try await LiveServer.with(redis: redis, workflows: gatedYAML(gate: gate)) { server in
        try await server.withClient { client in
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "gated", workflowID: "raw-done"))
        }
        try await RawConnection.with(server.socketPath) { raw in
          try await raw.send(Envelope(requestID: 7, method: "WatchWorkflow", payload: [0xFF, 0xFF, 0xFF]))
          let bad = try #require(try await raw.nextFrame())
          #expect(bad.requestID == 7 && bad.statusCode == .invalidArgument && bad.endOfStream)
          #expect(bad.statusMessage.contains("WatchWorkflowRequest"))

          try await raw.send(
            Envelope(
              requestID: 8, method: "WatchWorkflow", payload: WatchWorkflowRequest(workflowID: "raw-done").protobufBytes()))
          let done = try #require(try await raw.nextFrame())
          #expect(done.requestID == 8 && done.statusCode == .ok && done.endOfStream)
          let state = try WatchWorkflowResponse(protobufBytes: done.payload).state
          #expect(state.status == .completed && state.workflowID == "raw-done")

          // A deadline ends a watch of a run that goes on.
          #expect(FileManager.default.createFile(atPath: gate, contents: nil))
          try await raw.send(
            Envelope(
              requestID: 9, method: "StartWorkflow",
              payload: StartWorkflowRequest(workflow: "gated", workflowID: "raw-held", noWait: true).protobufBytes()))
          #expect(try await raw.nextFrame()?.statusCode == .ok)
          try await raw.send(
            Envelope(
              requestID: 10, method: "WatchWorkflow", payload: WatchWorkflowRequest(workflowID: "raw-held").protobufBytes(),
              timeoutMilliseconds: 300))
          var frames: [Envelope] = []
          while let frame = try await raw.nextFrame() {
            frames.append(frame)
            if frame.endOfStream { break }
          }
          #expect(frames.allSatisfy { $0.requestID == 10 })
          #expect(frames.dropLast().allSatisfy { !$0.endOfStream && $0.statusCode == .ok })
          #expect(frames.last?.statusCode == .deadlineExceeded)
        }
      }
    }
  }

  @Test func watchesAndCallsShareAConnection() async throws {
    try await withGate { redis, directory, gate in
      try await LiveServer.with(redis: redis, workflows: gatedYAML(gate: gate)) { server in
        try await server.withClient { client in
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "gated", workflowID: "w-a", noWait: true))
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "gated", workflowID: "w-b", noWait: true))
          // Two watches on one connection, and unary calls in between.
          async let a = Self.watch(client, "w-a")
          async let b = Self.watch(client, "w-b") {
            let state = try await client.getState(GetStateRequest(workflowID: "w-a")).state
            #expect(state.status == .running)
            try FileManager.default.removeItem(atPath: gate)
          }
          let (watchedA, watchedB) = try await (a, b)
          #expect(watchedA.last?.state.status == .completed)
          #expect(watchedB.last?.state.status == .completed)
          #expect(watchedA.events.allSatisfy { $0.step.isEmpty || ["wait", "work", "finish"].contains($0.step) })
        }
      }
    }
  }

  @Test func aWatchEndsWithUnavailableWhenRedisGoesDown() async throws {
    try await withGate { redis, _, gate in
      try await LiveServer.with(redis: redis, workflows: gatedYAML(gate: gate)) { server in
        try await server.withClient { client in
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "gated", workflowID: "w-redis", noWait: true))
          do {
            _ = try await Self.watch(client, "w-redis") { await redis.server.kill() }
            Issue.record("the watch ended without an error")
          } catch let error as ResumableClientError {
            #expect(error.code == .unavailable, "\(error)")
            #expect(error.message.contains("Redis"), "\(error)")
          }
          // Redis back: the server serves again, and the run is still there.
          try await redis.server.start()
          try FileManager.default.removeItem(atPath: gate)
          try await eventually(timeout: .seconds(20), interval: .milliseconds(50)) {
            let state = try await client.getState(GetStateRequest(workflowID: "w-redis")).state
            guard state.workflowID == "w-redis" else { throw TestSupportError("not yet") }
          }
        }
      }
    }
  }

  @Test func aWatchEndsWithUnavailableWhenTheServerShutsDown() async throws {
    try await withGate { redis, directory, gate in
      let server = try await ServeProcess.start(
        ServeProcess.arguments(redis: redis, yaml: gatedYAML(gate: gate), keyPrefix: uniqueKeyPrefix(), in: directory),
        name: "w", logLevel: "warning", in: directory)
      var status: Int32 = -1
      do {
        try await server.withClient { client in
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "gated", workflowID: "w-down", noWait: true))
          do {
            _ = try await Self.watch(client, "w-down") { status = await server.stop() }
            Issue.record("the watch ended without an error")
          } catch let error as ResumableClientError {
            #expect(error.code == .unavailable, "\(error)")
            #expect(error.message.contains("shutting down"), "\(error)")
          }
        }
      } catch {
        await server.kill()
        throw error
      }
      #expect(status == 0, "serve exited \(status): \(server.stderr)")
    }
  }
}

extension WatchWorkflowTests {
  /// The race of the issue: a watcher attached through one server to a run
  /// driven by another, which dies mid-step; the watcher's server recovers the
  /// run, and the watcher sees it through to the end, from Redis.
  @Test func aWatcherOnOneServerFollowsARunDrivenByAnother() async throws {
    // A middle step long enough to be killed in, on a loaded machine too.
    try await CrashRecoveryTests.withSetup(middleMs: 3000) { setup in
      let driver = try await setup.serve(ServeSetup.fast, name: "driver")
      let watcher = try await setup.serve(ServeSetup.fast, name: "watcher")
      do {
        try await CrashRecoveryTests.startWithoutWaiting(driver, ["race-1"])
        let watched = try await watcher.withClient { client in
          try await Self.watch(client, "race-1") {
            try await setup.waitForExecution("race-1 two 1")
            await driver.kill()
          }
        }
        #expect(watched.first.state.workflowID == "race-1")
        #expect(watched.last?.state.status == .completed)
        let commits = watched.events.filter { $0.type == "step_committed" }
        // Whatever was committed when the watch opened plus what it saw: each step once.
        let committedFirst = watched.first.state.steps.filter { $0.status == .completed }.map(\.name)
        #expect(committedFirst + commits.map(\.step) == ["one", "two", "three"])
        // Step two was interrupted by the kill and committed by its second attempt.
        #expect(commits.first { $0.step == "two" }?.attempt == 2)
        #expect(setup.record.executions(of: "race-1") == ["one": 1, "two": 2, "three": 1])
        _ = await watcher.stop()
      } catch {
        await driver.kill()
        await watcher.kill()
        throw error
      }
    }
  }
}
