import NIOCore
import NIOPosix
import ResumableRedis
import ResumableTestSupport
import Synchronization
import Testing

/// A fake "Redis" on a Unix socket that answers every read with `reply`, whatever was asked.
struct FakeRedisServer {
  let channel: any Channel
  let accepted: Accepted

  final class Accepted: Sendable {
    let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
  }

  static func start(path: String, reply: String) async throws -> FakeRedisServer {
    let accepted = Accepted()
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .childChannelInitializer { channel in
        accepted.count.withLock { $0 += 1 }
        return channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(FixedReplyHandler(reply: reply))
        }
      }
      .bind(unixDomainSocketPath: path).get()
    return FakeRedisServer(channel: channel, accepted: accepted)
  }

  final class FixedReplyHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let reply: String
    init(reply: String) { self.reply = reply }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
      context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: reply)), promise: nil)
    }
  }
}

@Suite struct ProtocolErrorTests {
  @Test func bytesThatAreNotRESPAreAProtocolError() async throws {
    try await withTemporaryDirectory { directory in
      let path = directory.appending("fake.sock")
      let server = try await FakeRedisServer.start(
        path: path, reply: "HTTP/1.1 400 Bad Request\r\n\r\n")
      let client = RedisClient(address: .unixDomainSocket(path: path))
      for _ in 0..<3 {
        let error = await #expect(throws: RedisError.self) {
          try await client.pipeline([["PING"], ["PING"]])
        }
        #expect(error?.code == .protocolError)
        #expect(
          error?.message.contains("Protocol error, got \"H\" as reply type byte") == true,
          "\(error?.message ?? "")")
      }
      // Each protocol error closed the connection; each command got a fresh one.
      #expect(server.accepted.value == 3)
      await client.close()
      try await server.channel.close()
    }
  }

  @Test func aServerThatNeverAnswersTheHandshakeTimesOut() async throws {
    try await withTemporaryDirectory { directory in
      let path = directory.appending("silent.sock")
      let server = try await FakeRedisServer.start(path: path, reply: "")
      let client = RedisClient(
        address: .unixDomainSocket(path: path, database: 1),
        configuration: .init(connectTimeout: .milliseconds(200)))
      let error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
      #expect(error?.code == .unavailable)
      #expect(
        error?.message.contains("did not answer AUTH/SELECT") == true, "\(error?.message ?? "")")
      await client.close()
      try await server.channel.close()
    }
  }

  @Test func anUnsolicitedReplyClosesTheConnection() async throws {
    try await withTemporaryDirectory { directory in
      let path = directory.appending("fake.sock")
      // Two replies for every command: the second one belongs to nobody.
      let server = try await FakeRedisServer.start(path: path, reply: "+OK\r\n+EXTRA\r\n")
      let client = RedisClient(address: .unixDomainSocket(path: path))
      for _ in 0..<3 {
        #expect(try await client.send(["PING"]) == .simpleString("OK"))
      }
      // "+EXTRA" arrives with "+OK" and closes the connection: each PING needed a new one.
      #expect(server.accepted.value == 3)
      await client.close()
      try await server.channel.close()
    }
  }
}
