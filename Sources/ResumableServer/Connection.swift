import Logging
import NIOCore
import ResumableWire
import Synchronization

/// One client connection: reads frames, answers each request in its own
/// task (so pipelined requests proceed together and answer in any order),
/// and writes each response as one frame — a server-streaming call as
/// several, in order, the last one with `endOfStream`.
///
/// A frame over the size limit or bytes that are not an envelope get one
/// error frame (request id 0) and the connection is closed; the server goes
/// on serving everyone else.
struct Connection {
  let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
  let dispatcher: Dispatcher
  let registry: ConnectionRegistry
  let logger: Logger

  func serve() async {
    let id = registry.add(channel.channel)
    defer { registry.remove(id) }
    do {
      try await channel.executeThenClose { inbound, outbound in
        try await withThrowingDiscardingTaskGroup { requests in
          defer { requests.cancelAll() }
          do {
            for try await frame in inbound {
              let request: Envelope
              do {
                request = try Envelope(frameBody: frame)
              } catch {
                try await outbound.write(
                  Self.connectionError(.invalidArgument, "the frame is not a resumable.v1.Envelope (\(error)); closing the connection"))
                return
              }
              registry.requestStarted()
              requests.addTask {
                defer { registry.requestFinished() }
                if Method(rawValue: request.method)?.isServerStreaming == true {
                  await dispatcher.stream(request) { frame in
                    try await outbound.write(frame.frameBody(allocator: ByteBufferAllocator()))
                  }
                  return
                }
                let response = await dispatcher.respond(to: request)
                try? await outbound.write(response.frameBody(allocator: ByteBufferAllocator()))
              }
            }
          } catch let error as FrameTooLargeError {
            logger.notice("closing a connection: \(error)")
            try? await outbound.write(Self.connectionError(.resourceExhausted, "\(error); closing the connection"))
          }
        }
      }
    } catch {
      logger.debug("connection ended: \(error)")
    }
  }

  static func connectionError(_ code: StatusCode, _ message: String) -> ByteBuffer {
    Envelope(requestID: 0, statusCode: code, statusMessage: message, endOfStream: true)
      .frameBody(allocator: ByteBufferAllocator())
  }
}

/// The open connections and the requests in flight, so shutdown can close
/// the connections once every request has had its answer written.
final class ConnectionRegistry: Sendable {
  private struct State {
    var next = 0
    var open: [Int: any Channel] = [:]
    var requestsInFlight = 0
  }

  private let state = Mutex(State())

  func add(_ channel: any Channel) -> Int {
    state.withLock { state in
      defer { state.next += 1 }
      state.open[state.next] = channel
      return state.next
    }
  }

  func remove(_ id: Int) {
    _ = state.withLock { $0.open.removeValue(forKey: id) }
  }

  func requestStarted() { state.withLock { $0.requestsInFlight += 1 } }
  func requestFinished() { state.withLock { $0.requestsInFlight -= 1 } }

  /// Waits (up to `patience`) for requests in flight to answer, then closes
  /// every connection.
  func closeAll(patience: Duration = .seconds(5)) async {
    let deadline = ContinuousClock.now + patience
    while state.withLock({ $0.requestsInFlight > 0 }) && ContinuousClock.now < deadline {
      try? await Task.sleep(for: .milliseconds(10))
    }
    let open = state.withLock { Array($0.open.values) }
    for channel in open { try? await channel.close() }
  }
}
