import Foundation
import ResumableClient
import ResumableTestSupport
import ResumableWire
import Testing

/// Issue 8: every limit answers RESOURCE_EXHAUSTED naming its flag, and the
/// server recovers once the load is gone; idle and stalled connections are closed.
@Suite("Limits and backpressure")
struct LimitsTests {
  static let workflows = researchYAML(record: "/dev/null")
    + """

      - name: big
        steps:
          - {name: blob, plugin: simulate, config: {artifact_bytes: 900000}}
      - name: long
        steps:
          - {name: wait, plugin: simulate, config: {latency_ms: 2000}}
    """

  static func getState(_ id: UInt64, _ workflowID: String = "nobody-here", artifacts: Bool = false) -> Envelope {
    Envelope(
      requestID: id, method: "GetState",
      payload: GetStateRequest(workflowID: workflowID, includeArtifacts: artifacts).protobufBytes())
  }

  @Test func connectionLimitRefusesOneMoreThenRecovers() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.workflows, configure: { $0.transport.limits.maximumConnections = 1 }) { server in
        try await RawConnection.with(server.socketPath) { first in
          try await first.send(Self.getState(1))
          #expect(try await first.nextFrame()?.statusCode == .notFound)
          try await RawConnection.with(server.socketPath) { second in
            let frames = try await second.framesUntilClose()
            #expect(frames.count == 1)
            #expect(frames.first?.statusCode == .resourceExhausted)
            #expect(frames.first?.statusMessage.contains("1 open connections, its limit") == true)
            #expect(frames.first?.statusSetting == "max_connections")
          }
        }
        // The first connection is gone: a new one is served.
        try await eventually {
          try await RawConnection.with(server.socketPath) { again in
            try await again.send(Self.getState(2))
            let answer = try await again.nextFrame()
            guard answer?.statusCode == .notFound else { throw TestSupportError("not served yet: \(String(describing: answer))") }
          }
        }
      }
    }
  }

  @Test func requestLimitPerConnectionAnswersOneMoreThenRecovers() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.workflows, configure: { $0.transport.limits.maximumRequestsPerConnection = 1 }) { server in
        try await RawConnection.with(server.socketPath) { connection in
          let slow = StartWorkflowRequest(workflow: "slow", workflowID: "limit-req-1")
          try await connection.send(Envelope(requestID: 1, method: "StartWorkflow", payload: slow.protobufBytes()))
          try await connection.send(Self.getState(2))
          let refused = try #require(try await connection.nextFrame())
          #expect(refused.requestID == 2)
          #expect(refused.statusCode == .resourceExhausted)
          #expect(refused.statusMessage.contains("1 requests in flight, the per-connection limit"))
          #expect(refused.statusSetting == "max_requests_per_connection")
          let started = try #require(try await connection.nextFrame())
          #expect(started.requestID == 1)
          #expect(started.statusCode == .ok)
          // Nothing in flight any more (a request counts until its answer is
          // written, a moment after it is read): the next request is served.
          var id: UInt64 = 3
          let served = try await eventually {
            id += 1
            try await connection.send(Self.getState(id))
            let answer = try #require(try await connection.nextFrame())
            guard answer.statusCode != .resourceExhausted else { throw TestSupportError("still in flight") }
            return answer
          }
          #expect(served.requestID == id)
          #expect(served.statusCode == .notFound)
        }
      }
    }
  }

  @Test func runLimitAnswersOneMoreThenRecovers() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.workflows, configure: { $0.engine.maximumActiveRuns = 1 }) { server in
        try await server.withClient { client in
          _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "slow", workflowID: "limit-run-1", noWait: true))
          let error = await #expect(throws: ResumableClientError.self) {
            _ = try await client.startWorkflow(StartWorkflowRequest(workflow: "echo", workflowID: "limit-run-2"))
          }
          #expect(error?.code == .resourceExhausted)
          #expect(error?.message.contains("executing 1 runs, its limit") == true)
          #expect(error?.setting == ResumableClientError.Setting("max_runs"))
          // The refused run was never created.
          let missing = await #expect(throws: ResumableClientError.self) {
            _ = try await client.getState(GetStateRequest(workflowID: "limit-run-2"))
          }
          #expect(missing?.code == .notFound)
          // Once the first run has finished, there is room again.
          let answer = try await eventually(timeout: .seconds(10), interval: .milliseconds(50)) {
            try await client.startWorkflow(StartWorkflowRequest(workflow: "echo", workflowID: "limit-run-2"))
          }
          #expect(answer.state.status == .completed)
        }
      }
    }
  }

  @Test func idleConnectionsCloseButOneWaitingOnARunStays() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(redis: redis, workflows: Self.workflows, configure: { $0.transport.limits.idleTimeout = .milliseconds(500) }) { server in
        try await RawConnection.with(server.socketPath) { idle in
          let frames = try await idle.framesUntilClose()
          #expect(frames.isEmpty)
        }
        // `long` runs 2 s, four idle timeouts: the call waiting on it is answered.
        try await RawConnection.with(server.socketPath) { waiting in
          let slow = StartWorkflowRequest(workflow: "long", workflowID: "idle-1")
          try await waiting.send(Envelope(requestID: 7, method: "StartWorkflow", payload: slow.protobufBytes()))
          let answer = try #require(try await waiting.nextFrame())
          #expect(answer.requestID == 7)
          #expect(answer.statusCode == .ok)
          let state = try StartWorkflowResponse(protobufBytes: answer.payload).state
          #expect(state.status == .completed)
          // Then idle again: closed.
          let after = try await waiting.framesUntilClose()
          #expect(after.isEmpty)
        }
      }
    }
  }

  @Test func aClientThatNeverReadsIsClosedAndOthersAreServed() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(
        redis: redis, workflows: Self.workflows,
        configure: {
          $0.transport.limits.writeStallTimeout = .milliseconds(300)
          $0.transport.limits.maximumRequestsPerConnection = 4
        }
      ) { server in
        try await server.withClient { client in
          let run = try await client.startWorkflow(StartWorkflowRequest(workflow: "big", workflowID: "stall-1"))
          #expect(run.state.status == .completed)
        }
        // 40 requests for a 900 kB answer each, and never a byte read.
        let requests = 40
        let stalled = try StalledClient(path: server.socketPath)
        defer { stalled.close() }
        var bytes: [UInt8] = []
        for id in 1...requests {
          let body = Self.getState(UInt64(id), "stall-1", artifacts: true).protobufBytes()
          bytes += RawConnection.prefix(body.count) + body
        }
        try stalled.write(bytes)
        // The server hangs up although we read nothing.
        try await eventually(timeout: .seconds(30), interval: .milliseconds(50)) {
          guard stalled.peerHungUp() else { throw TestSupportError("still open") }
        }
        // What it had sent before: far fewer answers than requests.
        let received = stalled.readToEnd()
        var frames = 0
        var offset = 0
        while offset + 4 <= received.count {
          let length = received[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
          guard offset + 4 + length <= received.count else { break }
          frames += 1
          offset += 4 + length
        }
        #expect(frames < requests, "the server answered every request to a client that never read")
        try await BadInputTests.stillServes(server)
      }
    }
  }
}

/// A client on a blocking socket that writes and then reads nothing, so the
/// server's answers pile up on its side.
final class StalledClient: @unchecked Sendable {
  // @unchecked: the descriptor is only used by the test that owns the client, one call at a time.
  private let fd: Int32

  init(path: String) throws {
    fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSupportError("socket: \(String(cString: strerror(errno)))") }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
    }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard connected == 0 else {
      Glibc.close(fd)
      throw TestSupportError("connect: \(String(cString: strerror(errno)))")
    }
  }

  func write(_ bytes: [UInt8]) throws {
    var offset = 0
    while offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      guard written > 0 else { throw TestSupportError("write: \(String(cString: strerror(errno)))") }
      offset += written
    }
  }

  /// Whether the server has closed its end, without reading: POLLHUP, or
  /// POLLRDHUP (0x2000; glibc declares it only under _GNU_SOURCE).
  func peerHungUp() -> Bool {
    let hangUp = Int16(POLLHUP) | 0x2000
    var descriptor = pollfd(fd: fd, events: hangUp, revents: 0)
    return poll(&descriptor, 1, 0) == 1 && descriptor.revents & hangUp != 0
  }

  /// Everything the server sent, up to its close.
  func readToEnd() -> [UInt8] {
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      guard count > 0 else { return received }
      received += chunk[..<count]
    }
  }

  func close() { Glibc.close(fd) }
}
