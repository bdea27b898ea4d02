import Foundation
import NIOCore
import NIOPosix
import ResumableClient
import ResumableTestSupport
import ResumableWire
import Testing

/// G6: bad input gets a clear status, and the server keeps serving.
@Suite("Bad input")
struct BadInputTests {
  static let workflows = researchYAML(record: "/dev/null")

  /// Checks the server still answers a well-formed call on a new connection.
  static func stillServes(_ server: LiveServer) async throws {
    try await server.withClient { client in
      let error = await #expect(throws: ResumableClientError.self) {
        _ = try await client.getState(GetStateRequest(workflowID: "still-here"))
      }
      #expect(error?.code == .notFound)
    }
  }

  @Test func oversizedFrameIsRefusedBeforeBuffering() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.workflows, configure: { $0.transport.maximumFrameBytes = 64 * 1024 }) { server in
        try await RawConnection.with(server.socketPath) { raw in
          // Announce 2 GiB and send only the header: the answer must not wait for the body.
          try await raw.send(RawConnection.prefix(0x7FFF_FFFF))
          let frames = try await raw.framesUntilClose()
          let frame = try #require(frames.first)
          #expect(frame.requestID == 0)
          #expect(frame.statusCode == .resourceExhausted)
          #expect(frame.statusMessage.contains("65536"))
        }
        try await Self.stillServes(server)
      }
    }
  }

  @Test(arguments: [
    [0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF],  // not protobuf
    [0, 0, 0, 2, 0x0A, 0x05],  // truncated field
    [0, 0, 0, 3, 0x12, 0x01, 0xC3],  // method with invalid UTF-8
  ] as [[UInt8]])
  func garbageEnvelopeClosesOnlyThatConnection(_ bytes: [UInt8]) async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.workflows) { server in
        let bystander = try await ResumableClient.connect(socketPath: server.socketPath)
        try await RawConnection.with(server.socketPath) { raw in
          try await raw.send(bytes)
          let frames = try await raw.framesUntilClose()
          #expect(frames.first?.statusCode == .invalidArgument)
          #expect(frames.first?.statusMessage.contains("not a resumable.v1.Envelope") == true)
        }
        // A client connected before keeps working.
        let error = await #expect(throws: ResumableClientError.self) {
          _ = try await bystander.getState(GetStateRequest(workflowID: "nobody"))
        }
        #expect(error?.code == .notFound)
        await bystander.close()
      }
    }
  }

  @Test func unknownMethodAndBadPayloadKeepTheConnection() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.workflows) { server in
        try await RawConnection.with(server.socketPath) { raw in
          try await raw.send(Envelope(requestID: 7, method: "DropTables"))
          let unknown = try #require(try await raw.nextFrame())
          #expect(unknown.requestID == 7)
          #expect(unknown.statusCode == .unimplemented)
          #expect(unknown.statusMessage.contains("StartWorkflow, ResumeWorkflow, GetState"))

          try await raw.send(Envelope(requestID: 8, method: "GetState", payload: [0xFF, 0xFF]))
          let badPayload = try #require(try await raw.nextFrame())
          #expect(badPayload.requestID == 8)
          #expect(badPayload.statusCode == .invalidArgument)
          #expect(badPayload.statusMessage.contains("GetStateRequest"))

          try await raw.send(
            Envelope(requestID: 9, method: "GetState", payload: GetStateRequest(workflowID: "nobody").protobufBytes()))
          let notFound = try #require(try await raw.nextFrame())
          #expect(notFound.requestID == 9 && notFound.statusCode == .notFound)
        }
      }
    }
  }

  @Test func requestErrorsNameTheProblem() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.workflows, configure: { $0.engine.maximumInputBytes = 1000 }) { server in
        try await server.withClient { client in
          func code(_ call: @escaping () async throws -> Void) async -> (StatusCode?, String) {
            do {
              try await call()
              return (nil, "")
            } catch let error as ResumableClientError {
              return (error.code, error.message)
            } catch {
              return (nil, "\(error)")
            }
          }
          var (status, message) = await code { _ = try await client.getState(GetStateRequest(workflowID: "no/slash")) }
          #expect(status == .invalidArgument && message.contains("'/'"))
          (status, message) = await code { _ = try await client.getState(GetStateRequest(workflowID: String(repeating: "a", count: 129))) }
          #expect(status == .invalidArgument && message.contains("128"))
          (status, message) = await code { _ = try await client.getState(GetStateRequest(workflowID: "")) }
          #expect(status == .invalidArgument)
          (status, message) = await code { _ = try await client.resumeWorkflow(ResumeWorkflowRequest(workflowID: "ghost")) }
          #expect(status == .notFound && message.contains("ghost"))
          (status, message) = await code { _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "nope")) }
          #expect(status == .notFound && message.contains("research"))
          (status, message) = await code { _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "echo", inputJSON: "{not json")) }
          #expect(status == .invalidArgument && message.contains("JSON"))
          (status, message) = await code {
            _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "echo", inputJSON: "\"\(String(repeating: "x", count: 2000))\""))
          }
          #expect(status == .resourceExhausted && message.contains("1000"))
          (status, message) = await code { _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "echo", workflowID: "bad id")) }
          #expect(status == .invalidArgument)
        }
        try await Self.stillServes(server)
      }
    }
  }
}
