import Foundation
public import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// The opt-in metrics listener: `GET /metrics` answers the Prometheus text
/// exposition (format 0.0.4) of the endpoint's registry; anything else 404
/// (or 405 for another method). One response per connection.
public final class MetricsServer: Sendable {
  private let channel: any Channel
  /// Where it listens (for TCP port 0, the port it was given).
  public let boundAddress: MetricsEndpoint.Address

  private init(channel: any Channel, boundAddress: MetricsEndpoint.Address) {
    self.channel = channel
    self.boundAddress = boundAddress
  }

  /// Binds and starts serving.
  /// - Throws: when the address cannot be bound.
  public static func start(endpoint: MetricsEndpoint, group: any EventLoopGroup) async throws -> MetricsServer {
    let registry = endpoint.registry
    let bootstrap = ServerBootstrap(group: group)
      .serverChannelOption(.backlog, value: 16)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
          try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(registry: registry))
        }
      }
    let channel: any Channel
    var bound = endpoint.address
    switch endpoint.address {
    case .tcp(let host, let port):
      channel = try await bootstrap.bind(host: host, port: port).get()
      if let actual = channel.localAddress?.port { bound = .tcp(host: host, port: actual) }
    case .unixDomainSocket(let path):
      channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
      guard chmod(path, 0o600) == 0 else {
        try? await channel.close()
        throw MetricsAddressError("cannot set the mode of '\(path)': \(String(cString: strerror(errno)))")
      }
    }
    return MetricsServer(channel: channel, boundAddress: bound)
  }

  /// Stops listening (and removes a Unix socket file).
  public func close() async {
    try? await channel.close()
    if case .unixDomainSocket(let path) = boundAddress { unlink(path) }
  }
}

/// Answers one HTTP request per connection from the registry.
final class MetricsHTTPHandler: ChannelInboundHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  private let registry: PrometheusCollectorRegistry
  private var head: HTTPRequestHead?

  init(registry: PrometheusCollectorRegistry) { self.registry = registry }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let head):
      self.head = head
    case .body:
      break
    case .end:
      guard let head else { return }
      self.head = nil
      respond(to: head, context: context)
    }
  }

  private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
    let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
    let status: HTTPResponseStatus
    let contentType: String
    var body = context.channel.allocator.buffer(capacity: 0)
    if path != "/metrics" {
      status = .notFound
      contentType = "text/plain; charset=utf-8"
      body.writeString("not found; metrics are at /metrics\n")
    } else if head.method != .GET && head.method != .HEAD {
      status = .methodNotAllowed
      contentType = "text/plain; charset=utf-8"
      body.writeString("use GET /metrics\n")
    } else {
      status = .ok
      contentType = "text/plain; version=0.0.4; charset=utf-8"
      if head.method == .GET { body.writeBytes(registry.emitToBuffer()) }
    }
    var headers = HTTPHeaders()
    headers.add(name: "Content-Type", value: contentType)
    headers.add(name: "Content-Length", value: "\(body.readableBytes)")
    headers.add(name: "Connection", value: "close")
    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
    if body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
    context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
      context.close(promise: nil)
    }
  }
}
