import ResumableRedis
import ResumableTestSupport
import Testing

/// A client on a `redis+sentinel://` address against real sentinels.
@Suite("Sentinel client")
struct SentinelClientTests {
  /// The TCP port of the node the client talks to.
  static func port(_ client: RedisClient) async throws -> Int? {
    let info = try await client.send(["INFO", "server"]).string ?? ""
    let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("tcp_port:") }
    return line.flatMap { Int($0.dropFirst("tcp_port:".count)) }
  }

  @Test func aSwitchedMasterIsFollowedByAClientThatOnlyReads() async throws {
    try await withTestSentinel { sentinel in
      let client = RedisClient(address: sentinel.address)
      defer { Task { await client.close() } }
      #expect(try await Self.port(client) == sentinel.masterPort)
      #expect(try await client.send(["ROLE"]).array?.first?.string == "master")
      // The client subscribed to +switch-master on one of the sentinels.
      try await eventually(timeout: .seconds(10), interval: .milliseconds(20)) {
        let count = try await Self.subscribers(sentinel)
        guard count == 1 else { throw TestSupportError("\(count) subscribers to +switch-master") }
      }
      // A failover that keeps the old master alive, as a replica: no connection drops and,
      // as the client only reads, no READONLY reply tells it either.
      let admin = RedisClient(address: .tcp(host: "127.0.0.1", port: sentinel.sentinelPorts[0]))
      defer { Task { await admin.close() } }
      #expect(try await admin.send(["SENTINEL", "FAILOVER", RedisArgument(TestSentinel.masterName)]) == .simpleString("OK"))
      try await eventually(timeout: .seconds(20), interval: .milliseconds(20)) {
        guard try await sentinel.currentMasterPort() == sentinel.replicaPort else { throw TestSupportError("no switch yet") }
      }
      // The sentinels would turn the old master into a replica (which drops its clients)
      // only at their next look at it, up to 10 s later: the client must not wait for that.
      let switched = ContinuousClock.now
      try await eventually(timeout: .seconds(3), interval: .milliseconds(20)) {
        guard try await Self.port(client) == sentinel.replicaPort else { throw TestSupportError("still on the old master") }
      }
      print("sentinel client: on the new master \(ContinuousClock.now - switched) after the sentinel named it")
      #expect(try await client.send(["ROLE"]).array?.first?.string == "master")
      #expect(try await client.send(["SET", "after-the-switch", "1"]) == .simpleString("OK"))
    }
  }

  static let password = "pw-Sn7-never-shown"

  /// Subscribed clients (`+switch-master`) over all the sentinels.
  static func subscribers(_ sentinel: TestSentinel) async throws -> Int {
    var subscribers = 0
    for port in sentinel.sentinelPorts {
      let node = RedisClient(address: sentinel.sentinelAddress(port))
      // Sentinels have no PUBSUB command: count the subscribed clients.
      let clients = try await node.send(["CLIENT", "LIST"]).string ?? ""
      subscribers += clients.split(whereSeparator: \.isNewline).count { $0.contains(" sub=1 ") }
      await node.close()
    }
    return subscribers
  }

  /// The error of the first command of a client on `address`, which must fail.
  static func refusal(_ address: RedisAddress) async throws -> String {
    let client = RedisClient(address: address)
    defer { Task { await client.close() } }
    let error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
    #expect(error?.code == .unavailable)
    return error.map(String.init(describing:)) ?? ""
  }

  /// Master and replica with `requirepass`, the sentinels with it too or with no password:
  /// the client sends the sentinels the master's password (a sentinel without one refuses
  /// that `AUTH` and answers all the same), asks, subscribes, and reaches the master. Where
  /// the sentinels require it, a wrong or missing password is refused with a message saying
  /// what to configure, never the password.
  @Test(arguments: [true, false])
  func aPasswordProtectedDeploymentIsReached(sentinelsRequirePassword: Bool) async throws {
    try await withTestSentinel(password: Self.password, sentinelsRequirePassword: sentinelsRequirePassword) { sentinel in
      let client = RedisClient(address: sentinel.address)
      defer { Task { await client.close() } }
      #expect(try await Self.port(client) == sentinel.masterPort)
      #expect(try await client.send(["SET", "with-a-password", "1"]) == .simpleString("OK"))
      try await eventually(timeout: .seconds(10), interval: .milliseconds(20)) {
        let count = try await Self.subscribers(sentinel)
        guard count == 1 else { throw TestSupportError("\(count) subscribers to +switch-master") }
      }
      guard sentinelsRequirePassword else { return }
      let plain = RedisAddress.sentinel(
        sentinel.sentinelPorts.map { RedisAddress.Node(host: "127.0.0.1", port: $0) }, masterName: TestSentinel.masterName)
      let wrong = try await Self.refusal(plain.authenticating(password: "wrong-Pw-3"))
      #expect(wrong.contains("refused the credentials given for the master (WRONGPASS"), "\(wrong)")
      #expect(wrong.contains("configure the sentinels with the same (requirepass"), "\(wrong)")
      #expect(!wrong.contains("wrong-Pw-3"))
      let missing = try await Self.refusal(plain)
      #expect(missing.contains("requires a password and none was given (NOAUTH"), "\(missing)")
    }
  }
}
