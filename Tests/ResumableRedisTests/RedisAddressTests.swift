import ResumableRedis
import Testing

@Suite struct RedisAddressTests {
  @Test(arguments: [
    (
      "redis://localhost", RedisAddress.tcp(host: "localhost", port: 6379), "redis://localhost:6379"
    ),
    (
      "redis://10.0.0.5:6380/3", .tcp(host: "10.0.0.5", port: 6380, database: 3),
      "redis://10.0.0.5:6380/3"
    ),
    ("REDIS://h:1/", .tcp(host: "h", port: 1), "redis://h:1"),
    ("redis://[::1]:7000/2", .tcp(host: "::1", port: 7000, database: 2), "redis://[::1]:7000/2"),
    ("redis://[::1]", .tcp(host: "::1", port: 6379), "redis://[::1]:6379"),
    (
      "unix:///var/run/redis.sock", .unixDomainSocket(path: "/var/run/redis.sock"),
      "unix:///var/run/redis.sock"
    ),
    (
      "unix:///tmp/r.sock?db=5", .unixDomainSocket(path: "/tmp/r.sock", database: 5),
      "unix:///tmp/r.sock?db=5"
    ),
    (
      "redis+sentinel://s1,s2:26380,[::1]:5/main?db=2",
      .sentinel(
        [.init(host: "s1", port: 26379), .init(host: "s2", port: 26380), .init(host: "::1", port: 5)], masterName: "main",
        database: 2),
      "redis+sentinel://s1:26379,s2:26380,[::1]:5/main?db=2"
    ),
    ("redis+sentinel://s1:1/m", .sentinel([.init(host: "s1", port: 1)], masterName: "m"), "redis+sentinel://s1:1/m"),
    (
      "redis+cluster://a:7000,b",
      .cluster([.init(host: "a", port: 7000), .init(host: "b", port: 6379)]), "redis+cluster://a:7000,b:6379"
    ),
  ])
  func parsesGoodURLs(url: String, expected: RedisAddress, description: String) throws {
    let address = try RedisAddress(url: url)
    #expect(address == expected)
    #expect(address.description == description)
    #expect(try RedisAddress(url: address.description) == address)
  }

  @Test(arguments: [
    ("localhost:6379", "no scheme"),
    ("http://localhost", "unsupported scheme 'http'"),
    ("rediss://localhost", "TLS"),
    ("redis://", "missing host"),
    ("redis://:6379", "missing host"),
    ("redis://host:0", "port '0'"),
    ("redis://host:65536", "port '65536'"),
    ("redis://host:abc", "port 'abc'"),
    ("redis://host/-1", "database '-1'"),
    ("redis://host/x", "database 'x'"),
    ("redis://host?db=1", "query parameters"),
    ("redis://::1", "IPv6"),
    ("redis://[::1", "unterminated"),
    ("redis://:%zz@host", "percent-encoding"),
    ("unix://relative.sock", "absolute"),
    ("unix:///", "missing socket file name"),
    ("unix:///tmp/r.sock?password=x", "unknown query parameter 'password'"),
    ("unix:///tmp/r.sock?db=two", "database 'two'"),
    ("unix:///" + String(repeating: "d", count: 120), "at most 107"),
    ("redis+sentinel://s1:26379", "names the master"),
    ("redis+sentinel://s1:26379/", "missing master name"),
    ("redis+sentinel://s1,,s2/m", "missing host"),
    ("redis+sentinel://s1/m?db=x", "database 'x'"),
    ("redis+cluster://a:7000/1", "only database 0"),
    ("redis+cluster://a:99999", "port '99999'"),
  ])
  func rejectsBadURLs(url: String, why: String) {
    let error = #expect(throws: RedisConfigurationError.self) { try RedisAddress(url: url) }
    #expect(error?.message.contains(why) == true, "\(error?.message ?? "no error")")
    #expect(error?.message.contains("expected redis://") == true)
  }

  @Test func topologiesKeepCredentialsButNeverShowThem() throws {
    let sentinel = try RedisAddress(url: "redis+sentinel://bob:pw@s1:1,s2:2/main")
    #expect(sentinel.topology == .sentinel && sentinel.hasPassword && sentinel.username == "bob")
    #expect(sentinel.description == "redis+sentinel://bob:***@s1:1,s2:2/main")
    let cluster = try RedisAddress(url: "redis+cluster://a:1").authenticating(password: "pw")
    #expect(cluster.topology == .cluster && cluster.description == "redis+cluster://:***@a:1")
    #expect(try RedisAddress(url: "redis://h").topology == .standalone)
  }

  @Test func passwordsAreKeptButNeverShown() throws {
    let address = try RedisAddress(url: "redis://alice:s3cr%40t@cache.internal:6380/2")
    #expect(address.username == "alice")
    #expect(address.hasPassword)
    #expect(address.description == "redis://alice:***@cache.internal:6380/2")
    #expect(
      address
        == .tcp(host: "cache.internal", port: 6380, database: 2).authenticating(
          username: "alice", password: "s3cr@t"))
    #expect(!String(reflecting: address).contains("s3cr"))
    var dumped = ""
    dump(address, to: &dumped)
    #expect(!dumped.contains("s3cr"))
    let userOnly = try RedisAddress(url: "redis://carol@h")
    #expect(userOnly.username == "carol" && !userOnly.hasPassword)
    #expect(userOnly.authenticating(username: userOnly.username, password: "pw").description == "redis://carol:***@h:6379")
    let unixUser = try RedisAddress(url: "unix://svc@/tmp/r.sock?db=3")
    #expect(unixUser.username == "svc" && unixUser.unixSocketPath == "/tmp/r.sock" && unixUser.database == 3)
    #expect(unixUser.authenticating(username: "svc", password: "pw").description == "unix://svc:***@/tmp/r.sock?db=3")
    let anonymous = try RedisAddress(url: "redis://:hunter2@h")
    #expect(anonymous.description == "redis://:***@h:6379")

    let error = #expect(throws: RedisConfigurationError.self) {
      try RedisAddress(url: "redis://bob:hunter2@h:99999")
    }
    #expect(error?.message.contains("hunter2") == false)
    #expect(error?.message.contains("redis://bob:***@h:99999") == true)
  }
}
