import Foundation
import NIOCore
import NIOPosix
import ResumableRedis
import ResumableTestSupport
import Testing

/// What happens on connect: SELECT and AUTH.
@Suite struct ConnectionSetupTests {
  @Test func selectsTheConfiguredDatabase() async throws {
    try await withTestRedis { redis in
      let key = RedisArgument(uniqueKeyPrefix() + "k")
      try await redis.withClient(database: 3) { client async throws in
        #expect(try await client.send(["SET", key, "in-3"]) == .simpleString("OK"))
      }
      try await redis.withClient { client async throws in
        #expect(try await client.send(["GET", key]) == .null)
      }
      let viaURL = RedisClient(
        address: try RedisAddress(url: "unix://\(redis.server.configuration.socketPath)?db=3"))
      #expect(try await viaURL.send(["GET", key]) == "in-3")
      await viaURL.close()
    }
  }

  /// A port the OS just handed out; Redis binds it right after (loopback only).
  static func freePort() async throws -> Int {
    let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .bind(host: "127.0.0.1", port: 0).get()
    let port = try #require(probe.localAddress?.port)
    try await probe.close()
    return port
  }

  @Test func connectsOverTCP() async throws {
    let port = try await Self.freePort()
    try await withTestRedis(extraArguments: ["--port", "\(port)", "--bind", "127.0.0.1"]) {
      redis async throws in
      let client = RedisClient(address: try RedisAddress(url: "redis://127.0.0.1:\(port)/2"))
      #expect(try await client.send(["SET", "k", "tcp"]) == .simpleString("OK"))
      #expect(try await client.send(["CLIENT", "INFO"]).string?.contains("db=2") == true)
      await client.close()
    }
  }

  /// An idle TCP connection to Redis has the kernel's keepalive timer armed (`/proc/net/tcp`
  /// shows timer 2 with about TCP_KEEPIDLE left), so a peer that vanished is noticed.
  @Test func tcpConnectionsUseKeepalive() async throws {
    let port = try await Self.freePort()
    // Redis' own keepalive off, so only the client's side can have the timer.
    try await withTestRedis(
      extraArguments: ["--port", "\(port)", "--bind", "127.0.0.1", "--tcp-keepalive", "0"]
    ) { redis async throws in
      let client = RedisClient(address: try RedisAddress(url: "redis://127.0.0.1:\(port)"))
      let info = try #require(try await client.send(["CLIENT", "INFO"]).string)
      // addr=127.0.0.1:<our port>
      let address = try #require(info.split(separator: " ").first { $0.hasPrefix("addr=") })
      let ours = try #require(address.split(separator: ":").last.flatMap { Int($0) })
      let local = String(format: "0100007F:%04X", ours)
      try await eventually {
        // Read to the end: String(contentsOfFile:) stops at the first page of a /proc file.
        let bytes = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/net/tcp")).readToEnd() ?? Data()
        let rows = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map { $0.split(separator: " ") }
        guard let row = rows.first(where: { $0.count > 5 && $0[1] == local }) else {
          throw TestSupportError("no connection from \(local) in /proc/net/tcp")
        }
        // `tr:tm->when`: timer 2 is the keepalive (sk_timer); `when` in 1/100 s.
        let timer = row[5].split(separator: ":")
        guard timer[0] == "02", let left = Int(timer[1], radix: 16), left > 100 else {
          throw TestSupportError("no keepalive timer on \(local): \(row[5])")
        }
      }
      await client.close()
    }
  }

  @Test func authenticatesAndNeverLeaksThePassword() async throws {
    try await withTestRedis(extraArguments: ["--requirepass", "s3cret"]) { redis async throws in
      let good = RedisClient(address: redis.address.authenticating(password: "s3cret"))
      #expect(try await good.send(["PING"]) == .simpleString("PONG"))
      await good.close()

      let withUser = RedisClient(
        address: redis.address.authenticating(username: "default", password: "s3cret"))
      #expect(try await withUser.send(["PING"]) == .simpleString("PONG"))
      await withUser.close()

      let anonymous = RedisClient(address: redis.address)
      #expect(try await anonymous.send(["PING"]).errorMessage?.hasPrefix("NOAUTH") == true)
      await anonymous.close()

      let wrong = RedisClient(address: redis.address.authenticating(password: "wrong-pw"))
      let error = await #expect(throws: RedisError.self) { try await wrong.send(["PING"]) }
      #expect(error?.code == .unavailable)
      #expect(
        error?.message.contains("AUTH was refused") == true,
        "\(error.map(String.init(describing:)) ?? "")")
      #expect(error.map(String.init(describing:))?.contains("wrong-pw") == false)
      await wrong.close()
    }
  }
}
