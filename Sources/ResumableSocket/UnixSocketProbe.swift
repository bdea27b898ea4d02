public import NIOCore
import NIOPosix

/// Whether something listens on a Unix socket path.
public enum UnixSocketProbe {
  /// Whether a connection to `path` is accepted (within two seconds). A socket file left by
  /// a dead process refuses connections: it is not listening.
  /// - Parameters:
  ///   - path: The socket path.
  ///   - group: The event loops to connect from (default: NIO's shared ones).
  public static func isListening(path: String, group: (any EventLoopGroup)? = nil) async -> Bool {
    let group = group ?? MultiThreadedEventLoopGroup.singleton
    do {
      let channel = try await ClientBootstrap(group: group)
        .connectTimeout(.seconds(2))
        .connect(unixDomainSocketPath: path).get()
      try? await channel.close()
      return true
    } catch {
      return false
    }
  }
}
