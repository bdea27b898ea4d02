import Foundation
public import NIOCore
public import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP/1.1 server on loopback (TCP or a Unix socket) for the tests of the `http` and `llm`
/// plugins and of the server steps that call them: it answers each request with the next scripted reply (the last one
/// repeats) and records what it received.
public final class StubHTTPServer: Sendable {
  public struct Reply: Sendable {
    public var status: HTTPResponseStatus
    public var headers: [(String, String)]
    public var body: String
    public init(_ status: HTTPResponseStatus = .ok, headers: [(String, String)] = [], body: String) {
      self.status = status
      self.headers = headers
      self.body = body
    }
  }

  public struct Received: Sendable {
    public var method: HTTPMethod
    public var uri: String
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
  }

  /// The script and the log, shared by the per-connection handlers.
  final class Script: Sendable {
    private let state: Mutex<(replies: [Reply], received: [Received])>
    init(_ replies: [Reply]) { state = Mutex((replies, [])) }

    func answer(_ request: Received) -> Reply {
      state.withLock { state in
        state.received.append(request)
        return state.replies.count > 1 ? state.replies.removeFirst() : state.replies[0]
      }
    }

    var received: [Received] { state.withLock { $0.received } }
  }

  private let channel: any Channel
  private let script: Script
  /// `http://127.0.0.1:<port>` or `http+unix://<percent-encoded path>`.
  public let baseURL: String

  private init(channel: any Channel, script: Script, baseURL: String) {
    self.channel = channel
    self.script = script
    self.baseURL = baseURL
  }

  public var received: [Received] { script.received }

  /// Starts a server answering with `replies` in turn; on `unixSocket` when given, else TCP loopback.
  public static func start(replies: [Reply], unixSocket: String? = nil) async throws -> StubHTTPServer {
    let script = Script(replies)
    let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
          try channel.pipeline.syncOperations.addHandler(Handler(script: script))
        }
      }
    if let unixSocket {
      let channel = try await bootstrap.bind(unixDomainSocketPath: unixSocket, cleanupExistingSocketFile: true).get()
      let encoded = unixSocket.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? unixSocket
      return StubHTTPServer(channel: channel, script: script, baseURL: "http+unix://\(encoded)")
    }
    let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
    return StubHTTPServer(channel: channel, script: script, baseURL: "http://127.0.0.1:\(channel.localAddress?.port ?? 0)")
  }

  public func stop() async {
    try? await channel.close()
  }

  /// Collects one request, answers it with the script's next reply.
  final class Handler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: used only on its channel's event loop.
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let script: Script
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(script: Script) { self.script = script }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
      switch unwrapInboundIn(data) {
      case .head(let head):
        self.head = head
        body = []
      case .body(var buffer):
        body += buffer.readBytes(length: buffer.readableBytes) ?? []
      case .end:
        guard let head else { return }
        let reply = script.answer(Received(method: head.method, uri: head.uri, headers: head.headers, body: body))
        var headers = HTTPHeaders(reply.headers)
        headers.add(name: "Content-Length", value: "\(reply.body.utf8.count)")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: reply.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: reply.body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
      }
    }
  }
}
