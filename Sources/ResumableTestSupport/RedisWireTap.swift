import NIOCore
import NIOPosix
public import ResumableRedis
import Synchronization

/// A byte-counting proxy between Redis clients and a real redis-server: it
/// relays every byte both ways over Unix sockets and parses what the clients
/// send (RESP), recording each command with its exact size on the wire.
///
/// For tests that measure what the product sends to Redis — e.g. the bytes of
/// each step commit — without hooks in the product's code.
///
/// - Important: Tests only. Call ``close()`` when done.
public final class RedisWireTap: Sendable {
  /// One command a client sent, as Redis received it.
  public struct Command: Sendable, Hashable {
    /// The command name and its arguments.
    public var arguments: [[UInt8]]
    /// The command's size on the wire (its RESP encoding), in bytes.
    public var bytes: Int

    /// The command name, upper-cased.
    public var name: String { String(decoding: arguments.first ?? [], as: UTF8.self).uppercased() }

    /// Argument `index` (0 is the command name) as text.
    public func text(_ index: Int) -> String {
      index < arguments.count ? String(decoding: arguments[index], as: UTF8.self) : ""
    }
  }

  /// Where clients connect: the tap's socket, forwarding to the real server.
  public let address: RedisAddress
  private let channel: any Channel
  private let recorder: Recorder

  private init(address: RedisAddress, channel: any Channel, recorder: Recorder) {
    self.address = address
    self.channel = channel
    self.recorder = recorder
  }

  /// Starts a tap listening on `socketPath` and forwarding to the Redis at `target`.
  public static func start(socketPath: String, forwardingTo target: String) async throws -> RedisWireTap {
    let recorder = Recorder()
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .childChannelInitializer { client in
        ClientBootstrap(group: client.eventLoop)
          .channelInitializer { upstream in
            upstream.eventLoop.makeCompletedFuture {
              try upstream.pipeline.syncOperations.addHandler(Relay(peer: client, recorder: nil))
            }
          }
          .connect(unixDomainSocketPath: target)
          .flatMapThrowing { upstream in
            try client.pipeline.syncOperations.addHandler(Relay(peer: upstream, recorder: recorder))
          }
      }
      .bind(unixDomainSocketPath: socketPath).get()
    return RedisWireTap(address: .unixDomainSocket(path: socketPath), channel: channel, recorder: recorder)
  }

  /// Every command recorded so far, in the order Redis received them (per connection).
  public var commands: [Command] { recorder.log.withLock { $0 } }

  /// Forgets the commands recorded so far.
  public func reset() { recorder.log.withLock { $0.removeAll() } }

  /// Arms a fault: the next `count` times a client sends a command that
  /// `matches`, the tap forwards it to Redis (which runs it) and then closes
  /// that client's connection before any reply comes back, as a network
  /// drop would. The client cannot tell whether the command ran.
  ///
  public func dropConnection(afterForwarding count: Int = 1, where matches: @escaping @Sendable (Command) -> Bool) {
    recorder.drops.withLock { $0 = Recorder.Drops(remaining: count, matches: matches, done: 0) }
  }

  /// How many connections an armed fault has dropped so far.
  public var droppedConnections: Int { recorder.drops.withLock { $0?.done ?? 0 } }

  /// Stops listening. Relayed connections close when their client closes.
  public func close() async {
    try? await channel.close()
  }

  /// Shares the log between the connections' handlers.
  private final class Recorder: Sendable {
    struct Drops {
      var remaining: Int
      var matches: @Sendable (Command) -> Bool
      var done: Int
    }
    let log = Mutex<[Command]>([])
    let drops = Mutex<Drops?>(nil)

    /// Whether one of `commands` trips the armed fault (counting it).
    func trips(_ commands: [Command]) -> Bool {
      drops.withLock { drops in
        guard var armed = drops, armed.remaining > 0, commands.contains(where: armed.matches) else { return false }
        armed.remaining -= 1
        armed.done += 1
        drops = armed
        return true
      }
    }
  }

  /// Relays reads to `peer`; on the client side, also parses and records commands.
  private final class Relay: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let peer: any Channel
    let recorder: Recorder?
    var parser = RESPCommandParser()

    init(peer: any Channel, recorder: Recorder?) {
      self.peer = peer
      self.recorder = recorder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
      let buffer = unwrapInboundIn(data)
      var drop = false
      if let recorder {
        let parsed = parser.feed(Array(buffer.readableBytesView))
        if !parsed.isEmpty { recorder.log.withLock { $0 += parsed } }
        drop = recorder.trips(parsed)
      }
      guard drop else {
        peer.writeAndFlush(buffer, promise: nil)
        return
      }
      // Forwarded in full, then the client's side is cut before Redis answers;
      // the upstream side closes after the write, so Redis still runs it.
      let client = context.channel
      let upstream = peer
      peer.writeAndFlush(buffer).whenComplete { _ in
        client.close(promise: nil)
        upstream.eventLoop.scheduleTask(in: .milliseconds(50)) { upstream.close(promise: nil) }
      }
    }

    func channelInactive(context: ChannelHandlerContext) {
      peer.close(promise: nil)
      context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
      context.close(promise: nil)
    }
  }
}

/// Splits a client's byte stream into RESP commands (arrays of bulk strings,
/// as every Redis client sends them), keeping incomplete input for later.
struct RESPCommandParser {
  private var buffer: [UInt8] = []

  /// Adds `bytes` and returns the commands they complete.
  mutating func feed(_ bytes: [UInt8]) -> [RedisWireTap.Command] {
    buffer += bytes
    var commands: [RedisWireTap.Command] = []
    var start = 0
    while let (command, end) = parse(at: start) {
      commands.append(command)
      start = end
    }
    buffer.removeFirst(start)
    return commands
  }

  /// One command starting at `start`, and where it ends; nil when incomplete.
  private func parse(at start: Int) -> (RedisWireTap.Command, Int)? {
    var index = start
    guard let count = header("*", &index) else { return nil }
    var arguments: [[UInt8]] = []
    for _ in 0..<count {
      guard let length = header("$", &index), index + length + 2 <= buffer.count else { return nil }
      arguments.append(Array(buffer[index..<index + length]))
      index += length + 2
    }
    return (RedisWireTap.Command(arguments: arguments, bytes: index - start), index)
  }

  /// `<marker><digits>\r\n` at `index`, moving past it.
  private func header(_ marker: Character, _ index: inout Int) -> Int? {
    guard index < buffer.count, buffer[index] == marker.asciiValue else { return nil }
    var cursor = index + 1
    var value = 0
    while cursor < buffer.count, buffer[cursor] != UInt8(ascii: "\r") {
      value = value * 10 + Int(buffer[cursor] &- UInt8(ascii: "0"))
      cursor += 1
    }
    guard cursor + 1 < buffer.count else { return nil }
    index = cursor + 2
    return value
  }
}
