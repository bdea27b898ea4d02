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
  ])
  func rejectsBadURLs(url: String, why: String) {
    let error = #expect(throws: RedisConfigurationError.self) { try RedisAddress(url: url) }
    #expect(error?.message.contains(why) == true, "\(error?.message ?? "no error")")
    #expect(error?.message.contains("expected redis://") == true)
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
