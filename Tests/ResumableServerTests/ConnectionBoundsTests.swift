import Foundation
import ResumableClient
import ResumableTestSupport
import ResumableWire
import Testing

/// What one connection may hold: a partial frame only for the frame timeout,
/// and requests in flight only up to a byte budget.
@Suite("Connection bounds")
struct ConnectionBoundsTests {
  @Test func aFrameThatDoesNotArriveInFullIsCutAtTheFrameTimeout() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(
        redis: redis, workflows: LimitsTests.workflows,
        configure: {
          // Long enough for the whole frame's answer (a Redis read) to be
          // written before the deadline closes the connection, even on a
          // loaded machine: at 300 ms, a parallel `make test` once lost it.
          $0.transport.limits.frameArrivalTimeout = .seconds(2)
          $0.transport.limits.idleTimeout = .seconds(600)
        }
      ) { server in
        try await RawConnection.with(server.socketPath) { connection in
          // A complete frame is served, however slowly its bytes came.
          let body = LimitsTests.getState(1).protobufBytes()
          let bytes = RawConnection.prefix(body.count) + body
          try await connection.send(Array(bytes[..<3]))
          try await connection.send(Array(bytes[3...]))
          #expect(try await connection.nextFrame()?.statusCode == .notFound)
          // A whole frame, then in the same write a prefix announcing 1000
          // bytes and 10 of them, then nothing: the first is answered, then
          // the connection is closed.
          try await connection.send(Array(bytes) + [0, 0, 3, 232] + Array(repeating: 0, count: 10))
          let answered = try await connection.framesUntilClose()
          #expect(answered.map(\.statusCode) == [.notFound])
        }
      }
    }
  }

  @Test func requestsInFlightAreBoundedInBytesPerConnection() async throws {
    try await withTestRedis { redis in
      try await LiveServer.with(
        redis: redis, workflows: LimitsTests.workflows,
        configure: { $0.transport.limits.maximumRequestBytesPerConnection = 200 }
      ) { server in
        try await RawConnection.with(server.socketPath) { connection in
          // A slow start holds its bytes; a 300-byte input does not fit beside it.
          let slow = StartWorkflowRequest(workflow: "slow", workflowID: "bytes-1")
          try await connection.send(Envelope(requestID: 1, method: "StartWorkflow", payload: slow.protobufBytes()))
          let big = StartWorkflowRequest(
            workflow: "slow", workflowID: "bytes-2", inputJSON: "\"\(String(repeating: "x", count: 300))\"")
          try await connection.send(Envelope(requestID: 2, method: "StartWorkflow", payload: big.protobufBytes()))
          let refused = try #require(try await connection.nextFrame())
          #expect(refused.requestID == 2 && refused.statusCode == .resourceExhausted)
          #expect(refused.statusMessage.contains("the per-connection limit"), "\(refused.statusMessage)")
          #expect(refused.statusSetting == "max_request_bytes_per_connection")
          #expect(try await connection.nextFrame()?.requestID == 1)
          // Alone on the connection, the same request is served (a request alone always fits).
          let served = try await eventually {
            try await connection.send(Envelope(requestID: 3, method: "StartWorkflow", payload: big.protobufBytes()))
            let answer = try #require(try await connection.nextFrame())
            guard answer.statusCode != .resourceExhausted else { throw TestSupportError("still in flight") }
            return answer
          }
          #expect(served.statusCode == .ok)
        }
      }
    }
  }
}
