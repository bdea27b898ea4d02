import Foundation
import NIOCore
import NIOPosix
import ResumableClient
import ResumableTestSupport
import ResumableWire
import Testing

/// A raw connection: writes arbitrary bytes, reads frames back.
final class RawConnection {
  private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
  private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
  private var buffer = ByteBuffer()

  private init(outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, inbound: NIOAsyncChannelInboundStream<ByteBuffer>) {
    self.outbound = outbound
    self.inbound = inbound.makeAsyncIterator()
  }

  /// Connects to `path` and runs `body`; the connection is closed afterwards.
  static func with(_ path: String, _ body: (RawConnection) async throws -> Void) async throws {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connect(unixDomainSocketPath: path) { channel in
        channel.eventLoop.makeCompletedFuture {
          try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
      }
    try await channel.executeThenClose { inbound, outbound in
      try await body(RawConnection(outbound: outbound, inbound: inbound))
    }
  }

  func send(_ bytes: [UInt8]) async throws {
    try await outbound.write(ByteBuffer(bytes: bytes))
  }

  func send(_ envelope: Envelope) async throws {
    let body = envelope.protobufBytes()
    try await send(Self.prefix(body.count) + body)
  }

  static func prefix(_ length: Int) -> [UInt8] {
    withUnsafeBytes(of: UInt32(length).bigEndian) { Array($0) }
  }

  /// The next frame, or nil when the server closed the connection first.
  func nextFrame() async throws -> Envelope? {
    while true {
      if let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
        buffer.readableBytes >= 4 + Int(length)
      {
        buffer.moveReaderIndex(forwardBy: 4)
        return try Envelope(frameBody: buffer.readSlice(length: Int(length))!)
      }
      guard var chunk = try await inbound.next() else { return nil }
      buffer.writeBuffer(&chunk)
    }
  }

  /// Every frame the server sends until it closes the connection; fails
  /// the test when it does not close within a few seconds.
  func framesUntilClose() async throws -> [Envelope] {
    let deadline = ContinuousClock.now + .seconds(5)
    var frames: [Envelope] = []
    while ContinuousClock.now < deadline {
      guard let frame = try await nextFrame() else { return frames }
      frames.append(frame)
    }
    Issue.record("the server did not close the connection")
    return frames
  }
}

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
