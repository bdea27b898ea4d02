/// Where a Redis server listens, which database to use, and how to authenticate.
///
/// Build one with ``unixDomainSocket(path:database:)``, ``tcp(host:port:database:)`` or
/// from a URL with ``init(url:)``.
///
/// - Important: A password is kept for `AUTH` but never shown: ``description``, `dump` and
///   every error message print it as `***`.
public struct RedisAddress: Sendable, Hashable {
  enum Endpoint: Sendable, Hashable {
    case tcp(host: String, port: Int)
    case unix(path: String)
  }

  let endpoint: Endpoint
  /// The database selected on connect (`SELECT`, skipped for 0).
  public let database: Int
  /// The ACL user name sent with `AUTH`, if any.
  public let username: String?
  /// The password sent with `AUTH`, if any. Internal so it cannot leak through the API.
  let password: String?

  init(endpoint: Endpoint, database: Int, username: String? = nil, password: String? = nil) {
    self.endpoint = endpoint
    self.database = database
    self.username = username
    self.password = password
  }

  /// A server on a Unix domain socket (`unix:///path`).
  ///
  /// - Parameters:
  ///   - path: Absolute path of the socket file (at most 107 bytes, a limit of the OS).
  ///   - database: The database to `SELECT` on connect.
  public static func unixDomainSocket(path: String, database: Int = 0) -> RedisAddress {
    RedisAddress(endpoint: .unix(path: path), database: database)
  }

  /// A server on TCP (`redis://host:port`).
  ///
  /// - Parameters:
  ///   - host: A host name or an IP address (IPv6 without brackets).
  ///   - port: The TCP port, usually 6379.
  ///   - database: The database to `SELECT` on connect.
  public static func tcp(host: String, port: Int, database: Int = 0) -> RedisAddress {
    RedisAddress(endpoint: .tcp(host: host, port: port), database: database)
  }

  /// The same address, authenticating with `AUTH [username] password` on connect.
  public func authenticating(username: String? = nil, password: String) -> RedisAddress {
    RedisAddress(endpoint: endpoint, database: database, username: username, password: password)
  }

  /// The same address with another database.
  public func selecting(database: Int) -> RedisAddress {
    RedisAddress(endpoint: endpoint, database: database, username: username, password: password)
  }

  /// Whether a password is configured (the password itself is not readable).
  public var hasPassword: Bool { password != nil }

  /// The socket path of a Unix-socket address; `nil` for TCP.
  public var unixSocketPath: String? {
    if case .unix(let path) = endpoint { return path }
    return nil
  }

  /// The host of a TCP address; `nil` for a Unix socket.
  public var host: String? {
    if case .tcp(let host, _) = endpoint { return host }
    return nil
  }

  /// The port of a TCP address; `nil` for a Unix socket.
  public var port: Int? {
    if case .tcp(_, let port) = endpoint { return port }
    return nil
  }
}

extension RedisAddress: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
  /// The address as a URL, with the password shown as `***`.
  public var description: String {
    switch endpoint {
    case .unix(let path):
      let user = username.map { "\($0)\(password != nil ? ":***" : "")@" } ?? ""
      return "unix://\(user)\(path)" + (database != 0 ? "?db=\(database)" : "")
    case .tcp(let host, let port):
      var userinfo = ""
      if password != nil {
        userinfo = "\(username ?? ""):***@"
      } else if let username {
        userinfo = "\(username)@"
      }
      let shownHost = host.contains(":") ? "[\(host)]" : host
      return "redis://\(userinfo)\(shownHost):\(port)" + (database != 0 ? "/\(database)" : "")
    }
  }

  public var debugDescription: String { "RedisAddress(\(description))" }

  /// Keeps the password out of `dump` and debugger output.
  public var customMirror: Mirror {
    Mirror(self, children: ["url": description], displayStyle: .struct)
  }
}
