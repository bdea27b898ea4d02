import NIOCore
import ResumableClient
import ResumableWire
import Synchronization
import Testing

@Suite("ResumableClient against a fake server")
struct ResumableClientTests {
  @Test("pipelined calls answered out of order are matched by request id")
  func pipelinedOutOfOrder() async throws {
    let ids = ["run-a", "run-b", "run-c", "run-d"]
    try await FakeServer.withClient { connection in
      // Read every request before answering any: the client must have pipelined them.
      let requests = try await connection.nextRequests(ids.count)
      for request in requests.reversed() {
        let asked = try GetStateRequest(protobufBytes: request.payload)
        try await connection.answer(
          request,
          with: GetStateResponse(state: RunState(workflowID: asked.workflowID, status: .completed)))
      }
      await connection.waitForClose()
    } body: { client in
      let answers = try await withThrowingTaskGroup(of: (String, RunState).self) { group in
        for id in ids {
          group.addTask {
            (id, try await client.getState(GetStateRequest(workflowID: id)).state)
          }
        }
        return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
      }
      #expect(answers.count == ids.count)
      for id in ids {
        #expect(answers[id]?.workflowID == id)
        #expect(answers[id]?.status == .completed)
      }
    }
  }

  @Test("each method sends its name, a fresh non-zero request id and its request")
  func requestsOnTheWire() async throws {
    let seen = Mutex<[Envelope]>([])
    try await FakeServer.withClient { connection in
      for _ in 0..<3 {
        let request = try await connection.nextRequest()
        seen.withLock { $0.append(request) }
        switch request.method {
        case Method.startWorkflow.rawValue:
          try await connection.answer(
            request,
            with: StartWorkflowResponse(
              state: RunState(workflowID: "s1", workflow: "wf", status: .running), created: true))
        case Method.resumeWorkflow.rawValue:
          try await connection.answer(
            request, with: ResumeWorkflowResponse(state: RunState(workflowID: "s1", status: .failed)))
        default:
          try await connection.answer(
            request, with: GetStateResponse(state: RunState(workflowID: "s1", status: .failed)))
        }
      }
      await connection.waitForClose()
    } body: { client in
      let started = try await client.startWorkflow(
        StartWorkflowRequest(workflow: "wf", workflowID: "s1", inputJSON: "{}", noWait: true),
        timeout: .seconds(30))
      #expect(started.created)
      #expect(started.state.status == .running)
      let resumed = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "s1"))
      #expect(resumed.state.status == .failed)
      _ = try await client.getState(GetStateRequest(workflowID: "s1", includeArtifacts: true))
    }
    let requests = seen.withLock { $0 }
    #expect(requests.map(\.method) == ["StartWorkflow", "ResumeWorkflow", "GetState"])
    #expect(Set(requests.map(\.requestID)).count == 3)
    #expect(!requests.map(\.requestID).contains(0))
    #expect(requests.map(\.timeoutMilliseconds) == [30_000, 0, 0])
    let start = try StartWorkflowRequest(protobufBytes: try #require(requests.first).payload)
    #expect(
      start == StartWorkflowRequest(workflow: "wf", workflowID: "s1", inputJSON: "{}", noWait: true))
    let getState = try GetStateRequest(protobufBytes: requests[2].payload)
    #expect(getState == GetStateRequest(workflowID: "s1", includeArtifacts: true))
  }

  @Test("a non-OK status surfaces as ResumableClientError with the server's code and message")
  func serverStatus() async throws {
    try await FakeServer.withClient { connection in
      let request = try await connection.nextRequest()
      try await connection.send(
        Envelope(
          requestID: request.requestID, method: request.method, statusCode: .notFound,
          statusMessage: "no run with id \"r1\"", endOfStream: true))
      await connection.waitForClose()
    } body: { client in
      let error = await #expect(throws: ResumableClientError.self) {
        try await client.getState(GetStateRequest(workflowID: "r1"))
      }
      #expect(error?.code == .notFound)
      #expect(error?.message == "no run with id \"r1\"")
    }
  }

  @Test("no socket at the path: .unavailable, naming the path and the socket setting")
  func noSocket() async throws {
    let path = FakeServer.temporarySocketPath()
    let error = await #expect(throws: ResumableClientError.self) {
      try await ResumableClient.connect(socketPath: path)
    }
    #expect(error?.code == .unavailable)
    #expect(error?.message.contains(path) == true)
    #expect(error?.setting == ResumableClientError.Setting("socket", value: path))
  }

  @Test("a socket nobody listens on (connection refused): .unavailable")
  func connectionRefused() async throws {
    try await FakeServer.withStaleSocket { path in
      let error = await #expect(throws: ResumableClientError.self) {
        try await ResumableClient.connect(socketPath: path)
      }
      #expect(error?.code == .unavailable)
      #expect(error?.message.contains(path) == true)
      #expect(error?.setting == ResumableClientError.Setting("socket", value: path))
    }
  }

  @Test("a server that writes and closes at once is still identified: its credentials are read before anything else")
  func serverClosingAtOnceIsIdentified() async throws {
    try await FakeServer.withServer(handle: { connection in
      try await connection.sendFrame([0x08, 0x01])
    }) { path in
      for _ in 0..<200 {
        // Connected and identified (the same user runs the server); the close is seen later.
        let client = try await ResumableClient.connect(socketPath: path)
        await client.close()
      }
    }
  }

  @Test("a socket path too long for Unix sockets: .invalidArgument")
  func pathTooLong() async throws {
    let path = "/tmp/" + String(repeating: "x", count: 200) + ".sock"
    let error = await #expect(throws: ResumableClientError.self) {
      try await ResumableClient.connect(socketPath: path)
    }
    #expect(error?.code == .invalidArgument)
  }

  @Test("the server closing the connection mid-call: .unavailable")
  func serverClosesMidCall() async throws {
    try await FakeServer.withClient { connection in
      _ = try await connection.nextRequest()
      // Returning closes the connection without an answer.
    } body: { client in
      let error = await #expect(throws: ResumableClientError.self) {
        try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "r1"))
      }
      #expect(error?.code == .unavailable)
      // Later calls fail at once too.
      let later = await #expect(throws: ResumableClientError.self) {
        try await client.getState(GetStateRequest(workflowID: "r1"))
      }
      #expect(later?.code == .unavailable)
    }
  }

  @Test("a request-id-0 error fails every pending call with the server's status and setting")
  func connectionLevelError() async throws {
    try await FakeServer.withClient { connection in
      _ = try await connection.nextRequests(3)
      try await connection.send(
        Envelope(
          requestID: 0, statusCode: .resourceExhausted,
          statusMessage: "frame of 9000000 bytes is over the limit", endOfStream: true,
          statusSetting: "max_frame_bytes"))
      await connection.waitForClose()
    } body: { client in
      let errors = await withTaskGroup(of: ResumableClientError?.self) { group in
        for index in 0..<3 {
          group.addTask {
            do {
              _ = try await client.getState(GetStateRequest(workflowID: "r\(index)"))
              return nil
            } catch {
              return error as? ResumableClientError
            }
          }
        }
        return await group.reduce(into: []) { $0.append($1) }
      }
      #expect(errors.count == 3)
      for error in errors {
        #expect(error?.code == .resourceExhausted)
        #expect(error?.message == "frame of 9000000 bytes is over the limit")
        #expect(error?.setting == ResumableClientError.Setting("max_frame_bytes"))
      }
      let later = await #expect(throws: ResumableClientError.self) {
        try await client.getState(GetStateRequest(workflowID: "r1"))
      }
      #expect(later?.code == .unavailable)
      // A call after the close still learns which setting refused the connection.
      #expect(later?.setting == ResumableClientError.Setting("max_frame_bytes"))
    }
  }

  @Test("no answer within the timeout: .deadlineExceeded, and the timeout travels on the wire")
  func clientSideTimeout() async throws {
    let sentTimeout = Mutex<UInt64?>(nil)
    try await FakeServer.withClient { connection in
      let slow = try await connection.nextRequest()
      sentTimeout.withLock { $0 = slow.timeoutMilliseconds }
      // Answer only the next call, and the slow one late: the late answer must be ignored.
      let next = try await connection.nextRequest()
      try await connection.answer(slow, with: GetStateResponse(state: RunState(workflowID: "late")))
      try await connection.answer(next, with: GetStateResponse(state: RunState(workflowID: "next")))
      await connection.waitForClose()
    } body: { client in
      let clock = ContinuousClock()
      let started = clock.now
      let error = await #expect(throws: ResumableClientError.self) {
        try await client.getState(GetStateRequest(workflowID: "slow"), timeout: .milliseconds(250))
      }
      #expect(error?.code == .deadlineExceeded)
      #expect(clock.now - started >= .milliseconds(250))
      #expect(clock.now - started < .seconds(5))
      // The connection is still usable.
      let next = try await client.getState(GetStateRequest(workflowID: "next"))
      #expect(next.state.workflowID == "next")
    }
    #expect(sentTimeout.withLock { $0 } == 250)
  }

  @Test("the configuration's default timeout applies to calls made without one")
  func defaultTimeout() async throws {
    try await FakeServer.withClient(
      configuration: .init(defaultCallTimeout: .milliseconds(100)), handle: FakeServer.silent
    ) { client in
      let error = await #expect(throws: ResumableClientError.self) {
        try await client.getState(GetStateRequest(workflowID: "r1"))
      }
      #expect(error?.code == .deadlineExceeded)
    }
  }

  @Test("an undecodable frame: .internal for every pending call")
  func undecodableFrame() async throws {
    try await FakeServer.withClient { connection in
      _ = try await connection.nextRequest()
      try await connection.sendFrame([0xFF, 0xFF, 0xFF, 0xFF])
      await connection.waitForClose()
    } body: { client in
      let error = await #expect(throws: ResumableClientError.self) {
        try await client.getState(GetStateRequest(workflowID: "r1"))
      }
      #expect(error?.code == .internal)
    }
  }

  @Test("a frame over the configured limit: .internal for every pending call")
  func frameOverLimit() async throws {
    try await FakeServer.withClient(configuration: .init(maximumFrameBytes: 1_024)) {
      connection in
      let request = try await connection.nextRequest()
      try await connection.answer(
        request,
        with: GetStateResponse(state: RunState(error: String(repeating: "x", count: 2_000))))
      await connection.waitForClose()
    } body: { client in
      let error = await #expect(throws: ResumableClientError.self) {
        try await client.getState(GetStateRequest(workflowID: "r1"))
      }
      #expect(error?.code == .internal)
    }
  }

  @Test("an undecodable payload in an OK answer: .internal for that call only")
  func undecodablePayload() async throws {
    try await FakeServer.withClient { connection in
      let bad = try await connection.nextRequest()
      try await connection.send(
        Envelope(
          requestID: bad.requestID, method: bad.method, payload: [0xFF, 0xFF, 0xFF],
          endOfStream: true))
      let good = try await connection.nextRequest()
      try await connection.answer(good, with: GetStateResponse(state: RunState(workflowID: "ok")))
      await connection.waitForClose()
    } body: { client in
      let error = await #expect(throws: ResumableClientError.self) {
        try await client.getState(GetStateRequest(workflowID: "r1"))
      }
      #expect(error?.code == .internal)
      let good = try await client.getState(GetStateRequest(workflowID: "ok"))
      #expect(good.state.workflowID == "ok")
    }
  }

  @Test("cancelling the calling task: .cancelled")
  func cancellation() async throws {
    try await FakeServer.withClient(handle: FakeServer.silent) { client in
      let call = try await waitingCall(client)
      call.cancel()
      let error = await #expect(throws: ResumableClientError.self) { try await call.value }
      #expect(error?.code == .cancelled)
    }
  }

  @Test("close() fails the waiting calls and every later call with .unavailable")
  func close() async throws {
    try await FakeServer.withClient(handle: FakeServer.silent) { client in
      let call = try await waitingCall(client)
      await client.close()
      let error = await #expect(throws: ResumableClientError.self) { try await call.value }
      #expect(error?.code == .unavailable)
      let later = await #expect(throws: ResumableClientError.self) {
        try await client.getState(GetStateRequest(workflowID: "r1"))
      }
      #expect(later?.code == .unavailable)
    }
  }

  /// A call the server never answers, given time to be sent.
  private func waitingCall(_ client: ResumableClient) async throws -> Task<
    GetStateResponse, any Error
  > {
    let call = Task {
      try await client.getState(GetStateRequest(workflowID: "r1"))
    }
    try await Task.sleep(for: .milliseconds(50))
    return call
  }
}
