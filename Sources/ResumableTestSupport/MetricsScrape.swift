import NIOCore
import NIOPosix

/// Reads a Prometheus endpoint served on a Unix socket (`--metrics-address PATH`).
public enum MetricsScrape {
  /// The raw HTTP response to `GET path`.
  public static func httpGet(_ path: String, unixSocket: String) async throws -> String {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connect(unixDomainSocketPath: unixSocket) { channel in
        channel.eventLoop.makeCompletedFuture {
          try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
      }
    return try await channel.executeThenClose { inbound, outbound in
      try await outbound.write(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n"))
      var response = ""
      for try await chunk in inbound { response += String(buffer: chunk) }
      return response
    }
  }

  /// `name{labels} value` lines of a Prometheus exposition, by `name{labels}`.
  public static func samples(_ exposition: String) -> [String: Double] {
    var samples: [String: Double] = [:]
    for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
      guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
      samples[String(line[..<space])] = value
    }
    return samples
  }
}
