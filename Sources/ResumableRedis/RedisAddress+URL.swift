extension RedisAddress {
  /// The longest Unix socket path the OS accepts (`sun_path` is 108 bytes with the NUL).
  public static let maximumUnixSocketPathLength = 107

  /// Parses `redis://[[user]:password@]host[:port][/db]` (port 6379 by default; IPv6 hosts
  /// in brackets), `unix://[user@]/absolute/path[?db=N]`,
  /// `redis+sentinel://[[user]:password@]host[:port][,…]/MASTER_NAME[?db=N]` (sentinels on
  /// port 26379 by default; the credentials are the master's, and sent to the sentinels too) or
  /// `redis+cluster://[[user]:password@]host[:port][,…]`. `redis://user@host` and
  /// `unix://user@/path` name an ACL user whose password is supplied separately
  /// (``authenticating(username:password:)``).
  ///
  /// User name and password may be percent-encoded. Errors say what is wrong and show the
  /// URL with its password replaced by `***`.
  public init(url: String) throws(RedisConfigurationError) {
    let shown = Self.redacted(url)
    func fail(_ why: String) -> RedisConfigurationError {
      RedisConfigurationError(
        "invalid Redis URL '\(shown)': \(why); expected redis://[[user]:password@]host[:port][/db], "
          + "unix:///absolute/path[?db=N], redis+sentinel://host:port[,host:port…]/MASTER_NAME[?db=N] "
          + "or redis+cluster://host:port[,host:port…]")
    }
    guard let separator = url.firstRange(of: "://") else { throw fail("no scheme") }
    let scheme = url[..<separator.lowerBound].lowercased()
    let rest = url[separator.upperBound...]
    switch scheme {
    case "unix":
      // `unix://user@/path`: an ACL user name (its password comes from elsewhere), as redis-py spells it.
      if !rest.hasPrefix("/"), let at = rest.firstRange(of: "@/") {
        let user = try Self.percentDecoded(rest[..<at.lowerBound], fail: fail)
        guard !user.isEmpty, !user.contains(":") else {
          throw fail("a unix:// URL carries a user name only (unix://user@/path); give the password in a file or the environment")
        }
        let address = try Self.parseUnix(rest[rest.index(after: at.lowerBound)...], fail: fail)
        self = RedisAddress(endpoint: address.endpoint, database: address.database, username: user)
      } else {
        self = try Self.parseUnix(rest, fail: fail)
      }
    case "redis":
      self = try Self.parseTCP(rest, fail: fail)
    case "redis+sentinel":
      self = try Self.parseSentinel(rest, fail: fail)
    case "redis+cluster":
      self = try Self.parseCluster(rest, fail: fail)
    case "rediss":
      throw fail("TLS (rediss://) is not supported; use a Unix socket or a TLS tunnel")
    default:
      throw fail("unsupported scheme '\(scheme)'")
    }
  }

  private static func parseUnix(
    _ rest: Substring, fail: (String) -> RedisConfigurationError
  ) throws(RedisConfigurationError) -> RedisAddress {
    guard rest.hasPrefix("/") else {
      throw fail("a Unix socket path must be absolute (note the three slashes in unix:///path)")
    }
    let parts = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    let path = String(parts[0])
    guard path.count > 1, !path.hasSuffix("/") else { throw fail("missing socket file name") }
    guard path.utf8.count <= maximumUnixSocketPathLength else {
      throw fail(
        "the socket path is \(path.utf8.count) bytes, "
          + "the OS allows at most \(maximumUnixSocketPathLength)"
      )
    }
    let database = try parseQuery(parts.count == 2 ? parts[1] : nil, fail: fail)
    return .unixDomainSocket(path: path, database: database)
  }

  private static func parseTCP(
    _ rest: Substring, fail: (String) -> RedisConfigurationError
  ) throws(RedisConfigurationError) -> RedisAddress {
    let (authority, username, password) = try parseUserinfo(rest, fail: fail)
    guard !authority.contains("?"), !authority.contains("#") else {
      throw fail(
        "query parameters are not supported in redis:// URLs (put the database in the path: /N)")
    }
    let hostPort: Substring
    var database = 0
    if let slash = authority.firstIndex(of: "/") {
      hostPort = authority[..<slash]
      let dbText = authority[authority.index(after: slash)...]
      if !dbText.isEmpty { database = try parseDatabase(dbText, fail: fail) }
    } else {
      hostPort = authority
    }
    let node = try parseNode(hostPort, defaultPort: 6379, fail: fail)
    return RedisAddress(
      endpoint: .tcp(host: node.host, port: node.port), database: database,
      username: username, password: password)
  }

  /// `redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/MASTER_NAME[?db=N]`
  /// (port 26379 by default). The credentials are the master's (and sent to the sentinels).
  private static func parseSentinel(
    _ rest: Substring, fail: (String) -> RedisConfigurationError
  ) throws(RedisConfigurationError) -> RedisAddress {
    let (authority, username, password) = try parseUserinfo(rest, fail: fail)
    let parts = authority.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    guard let slash = parts[0].firstIndex(of: "/") else {
      throw fail("a redis+sentinel:// URL names the master after the sentinels: /MASTER_NAME")
    }
    let masterName = String(parts[0][parts[0].index(after: slash)...])
    guard !masterName.isEmpty, !masterName.contains("/") else {
      throw fail("missing master name after the sentinels (/MASTER_NAME)")
    }
    let nodes = try parseNodes(parts[0][..<slash], defaultPort: 26379, fail: fail)
    let database = try parseQuery(parts.count == 2 ? parts[1] : nil, fail: fail)
    return RedisAddress(
      endpoint: .sentinel(nodes: nodes, masterName: masterName), database: database,
      username: username, password: password)
  }

  /// `redis+cluster://[[user]:password@]host[:port][,host[:port]…]` (port 6379 by default).
  private static func parseCluster(
    _ rest: Substring, fail: (String) -> RedisConfigurationError
  ) throws(RedisConfigurationError) -> RedisAddress {
    var (authority, username, password) = try parseUserinfo(rest, fail: fail)
    if authority.hasSuffix("/") { authority = authority.dropLast() }
    guard !authority.contains("/"), !authority.contains("?") else {
      throw fail("a Redis Cluster has only database 0: a redis+cluster:// URL has no path or query")
    }
    let seeds = try parseNodes(authority, defaultPort: 6379, fail: fail)
    return RedisAddress(endpoint: .cluster(seeds: seeds), database: 0, username: username, password: password)
  }

  /// Splits `[[user]:password@]rest` into the rest, the user name and the password.
  private static func parseUserinfo(
    _ rest: Substring, fail: (String) -> RedisConfigurationError
  ) throws(RedisConfigurationError) -> (authority: Substring, username: String?, password: String?) {
    guard let at = rest.lastIndex(of: "@") else { return (rest, nil, nil) }
    let userinfo = rest[..<at]
    let authority = rest[rest.index(after: at)...]
    if let colon = userinfo.firstIndex(of: ":") {
      let user = try percentDecoded(userinfo[..<colon], fail: fail)
      let password = try percentDecoded(userinfo[userinfo.index(after: colon)...], fail: fail)
      return (authority, user.isEmpty ? nil : user, password)
    }
    // A user name alone: the password comes from elsewhere (a file, the
    // environment) through `authenticating(username:password:)`.
    let user = try percentDecoded(userinfo, fail: fail)
    return (authority, user.isEmpty ? nil : user, nil)
  }

  /// `host[:port],host[:port]…`: at least one.
  private static func parseNodes(
    _ text: Substring, defaultPort: Int, fail: (String) -> RedisConfigurationError
  ) throws(RedisConfigurationError) -> [Node] {
    var nodes: [Node] = []
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
      nodes.append(try parseNode(item, defaultPort: defaultPort, fail: fail))
    }
    return nodes
  }

  /// `host[:port]`, an IPv6 host in brackets.
  private static func parseNode(
    _ hostPort: Substring, defaultPort: Int, fail: (String) -> RedisConfigurationError
  ) throws(RedisConfigurationError) -> Node {
    var host: Substring
    var portText: Substring?
    if hostPort.hasPrefix("[") {
      guard let close = hostPort.firstIndex(of: "]") else {
        throw fail("unterminated '[' in the IPv6 host")
      }
      host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
      let after = hostPort[hostPort.index(after: close)...]
      if !after.isEmpty {
        guard after.hasPrefix(":") else { throw fail("unexpected '\(after)' after the IPv6 host") }
        portText = after.dropFirst()
      }
    } else {
      let pieces = hostPort.split(separator: ":", omittingEmptySubsequences: false)
      guard pieces.count <= 2 else {
        throw fail("an IPv6 host must be in brackets, e.g. redis://[::1]:6379")
      }
      host = pieces[0]
      portText = pieces.count == 2 ? pieces[1] : nil
    }
    guard !host.isEmpty else { throw fail("missing host") }
    var port = defaultPort
    if let portText {
      guard let value = Int(portText), (1...65535).contains(value) else {
        throw fail("port '\(portText)' is not a number from 1 to 65535")
      }
      port = value
    }
    return Node(host: String(host), port: port)
  }

  /// The database of a `?db=N` query (0 without one); any other parameter is refused.
  private static func parseQuery(
    _ query: Substring?, fail: (String) -> RedisConfigurationError
  ) throws(RedisConfigurationError) -> Int {
    var database = 0
    for item in query?.split(separator: "&") ?? [] {
      let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      guard pair.count == 2, pair[0] == "db" else {
        throw fail("unknown query parameter '\(pair[0])' (only db=N is supported)")
      }
      database = try parseDatabase(pair[1], fail: fail)
    }
    return database
  }

  private static func parseDatabase(
    _ text: Substring, fail: (String) -> RedisConfigurationError
  ) throws(RedisConfigurationError) -> Int {
    guard let value = Int(text), value >= 0 else {
      throw fail("database '\(text)' is not a non-negative integer")
    }
    return value
  }

  private static func percentDecoded(
    _ text: Substring, fail: (String) -> RedisConfigurationError
  ) throws(RedisConfigurationError) -> String {
    var bytes: [UInt8] = []
    var iterator = text.utf8.makeIterator()
    while let byte = iterator.next() {
      guard byte == UInt8(ascii: "%") else {
        bytes.append(byte)
        continue
      }
      guard let high = iterator.next().flatMap(hexValue),
        let low = iterator.next().flatMap(hexValue)
      else {
        throw fail("bad percent-encoding in the user name or password")
      }
      bytes.append(high << 4 | low)
    }
    guard let decoded = String(validating: bytes, as: UTF8.self) else {
      throw fail("the user name or password is not valid UTF-8 once percent-decoded")
    }
    return decoded
  }

  private static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
  }

  /// `url` with everything between the first `:` of the user info and the last `@`
  /// replaced by `***`, so error messages can quote what the user typed.
  static func redacted(_ url: String) -> String {
    guard let at = url.lastIndex(of: "@") else { return url }
    let start = url.firstRange(of: "://").map(\.upperBound) ?? url.startIndex
    guard start <= at else { return url }
    let userinfo = url[start..<at]
    let user = userinfo.firstIndex(of: ":").map { userinfo[..<$0] } ?? ""
    return url[..<start] + user + ":***" + url[at...]
  }
}
