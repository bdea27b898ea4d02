public import Prometheus

/// Where and what the metrics listener serves: the text exposition of
/// `registry` at `GET /metrics`, over HTTP/1.1.
public struct MetricsEndpoint: Sendable, CustomStringConvertible {
  /// Where the listener binds.
  public enum Address: Sendable, Hashable, CustomStringConvertible {
    /// A TCP address, e.g. `127.0.0.1:9464`.
    case tcp(host: String, port: Int)
    /// A Unix domain socket path (created mode 0600).
    case unixDomainSocket(path: String)

    /// Parses `HOST:PORT` (`[::1]:9464` for IPv6) or a socket path (absolute,
    /// or `unix:///path`).
    public init(parsing text: String) throws(MetricsAddressError) {
      if text.hasPrefix("unix://") {
        self = try Self.unixPath(String(text.dropFirst("unix://".count)), text)
      } else if text.hasPrefix("/") {
        self = try Self.unixPath(text, text)
      } else {
        guard let colon = text.lastIndex(of: ":") else {
          throw MetricsAddressError("'\(text)' is neither HOST:PORT nor an absolute socket path")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw MetricsAddressError("'\(text)' has no host; e.g. 127.0.0.1:9464") }
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
          throw MetricsAddressError("'\(text)' has no valid port (0 to 65535); e.g. 127.0.0.1:9464")
        }
        self = .tcp(host: host, port: port)
      }
    }

    private static func unixPath(_ path: String, _ text: String) throws(MetricsAddressError) -> Address {
      guard path.hasPrefix("/"), path.utf8.count < 108 else {
        throw MetricsAddressError("'\(text)': a socket path must be absolute and shorter than 108 bytes")
      }
      return .unixDomainSocket(path: path)
    }

    public var description: String {
      switch self {
      case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
      case .unixDomainSocket(let path): "unix://\(path)"
      }
    }
  }

  /// Where the listener binds.
  public var address: Address
  /// What it serves.
  public var registry: PrometheusCollectorRegistry

  public init(address: Address, registry: PrometheusCollectorRegistry) {
    self.address = address
    self.registry = registry
  }

  public var description: String { "http://\(address)/metrics" }
}

/// A metrics address that cannot be parsed.
public struct MetricsAddressError: Error, CustomStringConvertible, Sendable {
  public var description: String
  init(_ description: String) { self.description = description }
}
