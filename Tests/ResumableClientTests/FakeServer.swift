import NIOCore
import NIOPosix
import ResumableClient
import ResumableServer
import ResumableWire

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A scripted server that speaks the framing on a temporary Unix socket: each test says what it
/// does with each connection.
enum FakeServer {
  /// A fresh, short socket path under /tmp (Unix socket paths must stay under 108 bytes).
  static func temporarySocketPath() -> String {
    "/tmp/rct-\(String(UInt64.random(in: 0...UInt64.max), radix: 36)).sock"
  }

  /// Runs a server while `body` runs, then stops it and removes its socket.
  /// - Parameters:
  ///   - handle: Runs for each accepted connection; the connection closes when it returns.
  ///   - body: Gets the socket path.
  static func withServer<Result: Sendable>(
    handle: @escaping @Sendable (FakeConnection) async throws -> Void,
    body: (String) async throws -> Result
  ) async throws -> Result {
    let path = temporarySocketPath()
    // The same accept path as the product server: no accepted connection is
    // ever dropped unfinished when the server stops (see AcceptedConnections).
    let accepted = AcceptedConnections<ByteBuffer, ByteBuffer>()
    let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
          try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
          let connection = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
          guard accepted.offer(connection) else { throw ChannelError.ioOnClosedChannel }
        }
      }
      .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
    defer { unlink(path) }
    return try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask {
        await withDiscardingTaskGroup { connectionTasks in
          while let connection = await accepted.next() {
            connectionTasks.addTask {
              try? await connection.executeThenClose { inbound, outbound in
                try await handle(FakeConnection(inbound: inbound, outbound: outbound))
              }
            }
          }
        }
      }
      defer { group.cancelAll() }
      do {
        let result = try await body(path)
        await Self.stop(server, accepted)
        return result
      } catch {
        await Self.stop(server, accepted)
        throw error
      }
    }
  }

  /// Stops accepting and closes the connections nobody took.
  private static func stop(_ server: any Channel, _ accepted: AcceptedConnections<ByteBuffer, ByteBuffer>) async {
    try? await server.close()
    await accepted.closeRemaining()
  }

  /// Runs a server while `body` runs with a client connected to it; closes both afterwards.
  static func withClient<Result: Sendable>(
    configuration: ResumableClient.Configuration = .init(),
    handle: @escaping @Sendable (FakeConnection) async throws -> Void,
    body: (ResumableClient) async throws -> Result
  ) async throws -> Result {
    try await withServer(handle: handle) { path in
      let client = try await ResumableClient.connect(
        socketPath: path, configuration: configuration)
      do {
        let result = try await body(client)
        await client.close()
        return result
      } catch {
        await client.close()
        throw error
      }
    }
  }

  /// A connection handler that reads requests and never answers.
  static let silent: @Sendable (FakeConnection) async throws -> Void = { connection in
    await connection.waitForClose()
  }

  /// Creates a socket file that nobody listens on (as a server that died leaves it), runs
  /// `body` with its path, then removes it.
  static func withStaleSocket<Result>(_ body: (String) async throws -> Result) async throws
    -> Result
  {
    let path = temporarySocketPath()
    let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .bind(unixDomainSocketPath: path).get()
    try await server.close()
    defer { unlink(path) }
    return try await body(path)
  }
}

/// One accepted connection of a ``FakeServer``; used by one task only.
final class FakeConnection {
  private var requests: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
  private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

  init(
    inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
    outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
  ) {
    self.requests = inbound.makeAsyncIterator()
    self.outbound = outbound
  }

  /// The next request frame, decoded; throws when the client closed the connection.
  func nextRequest() async throws -> Envelope {
    guard let frame = try await requests.next() else { throw ClientClosed() }
    return try Envelope(protobufBytes: Array(buffer: frame))
  }

  /// The next `count` request frames.
  func nextRequests(_ count: Int) async throws -> [Envelope] {
    var envelopes: [Envelope] = []
    for _ in 0..<count { envelopes.append(try await nextRequest()) }
    return envelopes
  }

  /// Waits until the client closes the connection, ignoring its requests.
  func waitForClose() async {
    while (try? await requests.next()) != nil {}
  }

  /// Sends an envelope as one frame.
  func send(_ envelope: Envelope) async throws {
    try await sendFrame(envelope.protobufBytes())
  }

  /// Answers `request` with OK and `response` as the payload.
  func answer(_ request: Envelope, with response: some WireMessage) async throws {
    try await send(
      Envelope(
        requestID: request.requestID, method: request.method, payload: response.protobufBytes(),
        statusCode: .ok, endOfStream: true))
  }

  /// Sends `bytes` as one frame, whatever they are.
  func sendFrame(_ bytes: [UInt8]) async throws {
    try await outbound.write(ByteBuffer(bytes: bytes))
  }

  struct ClientClosed: Error {}
}
