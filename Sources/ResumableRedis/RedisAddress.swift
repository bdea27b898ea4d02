/// Where a Redis server listens, which database to use, and how to authenticate.
///
/// Build one with ``unixDomainSocket(path:database:)``, ``tcp(host:port:database:)``,
/// ``sentinel(_:masterName:database:)``, ``cluster(_:)`` or from a URL with ``init(url:)``.
/// A Sentinel address names the sentinels to ask for the master; a Cluster address names
/// nodes to read the slot map from (``RedisClient`` routes each command to its slot's master).
///
/// - Important: A password is kept for `AUTH` but never shown: ``description``, `dump` and
///   every error message print it as `***`.
public struct RedisAddress: Sendable, Hashable {
  enum Endpoint: Sendable, Hashable {
    case tcp(host: String, port: Int)
    case unix(path: String)
    /// The sentinels to ask for the master named `masterName`.
    case sentinel(nodes: [Node], masterName: String)
    /// Nodes of a Redis Cluster to read the slot map from.
    case cluster(seeds: [Node])
  }

  /// A TCP host and port: one sentinel, or one node of a cluster.
  public struct Node: Sendable, Hashable, CustomStringConvertible {
    /// A host name or an IP address (IPv6 without brackets).
    public var host: String
    /// The TCP port.
    public var port: Int

    /// A node at `host:port`.
    public init(host: String, port: Int) {
      self.host = host
      self.port = port
    }

    /// `host:port`, IPv6 hosts in brackets.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
  }

  /// How the Redis behind an address is deployed, which decides how the client finds the node to talk to.
  public enum Topology: Sendable, Hashable {
    /// One server (on TCP or a Unix socket).
    case standalone
    /// A master found through Redis Sentinel, followed across failovers.
    case sentinel
    /// A Redis Cluster: keys sharded over masters by hash slot.
    case cluster
  }

  /// How the Redis behind this address is deployed.
  public var topology: Topology {
    switch endpoint {
    case .tcp, .unix: .standalone
    case .sentinel: .sentinel
    case .cluster: .cluster
    }
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

  /// A master found through Redis Sentinel (`redis+sentinel://host:port,…/name`).
  ///
  /// - Parameters:
  ///   - sentinels: The sentinels to ask, in order, for the master's address.
  ///   - masterName: The name the sentinels monitor the master under.
  ///   - database: The database to `SELECT` on connect.
  public static func sentinel(_ sentinels: [Node], masterName: String, database: Int = 0) -> RedisAddress {
    RedisAddress(endpoint: .sentinel(nodes: sentinels, masterName: masterName), database: database)
  }

  /// A Redis Cluster (`redis+cluster://host:port,…`); its nodes only serve database 0.
  ///
  /// - Parameter seeds: Nodes to read the slot map from; the others are found through them.
  public static func cluster(_ seeds: [Node]) -> RedisAddress {
    RedisAddress(endpoint: .cluster(seeds: seeds), database: 0)
  }

  /// The same credentials and database at the single server `node` (a master found
  /// through Sentinel, a node of a cluster).
  func at(_ node: Node) -> RedisAddress {
    RedisAddress(endpoint: .tcp(host: node.host, port: node.port), database: database, username: username, password: password)
  }

  /// The same address, authenticating with `AUTH [username] password` on connect.
  public func authenticating(username: String? = nil, password: String) -> RedisAddress {
    RedisAddress(endpoint: endpoint, database: database, username: username, password: password)
  }

  /// The same address with another database.
  public func selecting(database: Int) -> RedisAddress {
    RedisAddress(endpoint: endpoint, database: database, username: username, password: password)
  }

  /// `AUTH [username] password` when a password is configured.
  var authCommand: [RedisArgument]? {
    password.map { ["AUTH"] + (username.map { [RedisArgument($0)] } ?? []) + [RedisArgument($0)] }
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
      return "redis://\(userinfo)\(Node(host: host, port: port))" + (database != 0 ? "/\(database)" : "")
    case .sentinel(let nodes, let masterName):
      return "redis+sentinel://\(userinfo)\(nodes.map(\.description).joined(separator: ","))/\(masterName)"
        + (database != 0 ? "?db=\(database)" : "")
    case .cluster(let seeds):
      return "redis+cluster://\(userinfo)\(seeds.map(\.description).joined(separator: ","))"
    }
  }

  /// `user:***@`, `user@` or nothing, for descriptions.
  private var userinfo: String {
    if password != nil { return "\(username ?? ""):***@" }
    return username.map { "\($0)@" } ?? ""
  }

  public var debugDescription: String { "RedisAddress(\(description))" }

  /// Keeps the password out of `dump` and debugger output.
  public var customMirror: Mirror {
    Mirror(self, children: ["url": description], displayStyle: .struct)
  }
}
