import ResumableRedis
import ResumableTestSupport
import Testing

/// Redis faults (docs/Contract.md G7): the server is killed for real and restarted.
@Suite struct ReconnectTests {
  @Test func survivesKillAndRestartOfRedis() async throws {
    try await withTestRedis(appendFsync: .always) { redis in
      // No command deadline: the BLPOP below must block until Redis dies,
      // however long a loaded machine takes to get there.
      let client = redis.makeClient(
        configuration: .init(
          connectTimeout: .seconds(2), reconnectBackoff: .init(initial: .milliseconds(10), maximum: .milliseconds(200)),
          commandTimeout: nil))
      do {
        let k = uniqueKeyPrefix()
        #expect(
          try await client.send(["SET", RedisArgument(k + "before"), "kept"]) == .simpleString("OK")
        )

        // A command in flight when Redis dies: BLPOP blocks until then.
        let blocked = Task { try await client.send(["BLPOP", RedisArgument(k + "never"), "0"]) }
        try await eventually {
          let info = try await redis.withClient {
            try await $0.send(["INFO", "clients"]).string ?? ""
          }
          guard info.contains("blocked_clients:1") else {
            throw TestSupportError("BLPOP not blocked yet")
          }
        }
        await redis.server.kill()
        let inFlight = await #expect(throws: RedisError.self) { try await blocked.value }
        #expect(inFlight?.code == .connectionLost)
        #expect(inFlight?.message.contains("may or may not have run") == true)

        // While Redis is down: errors, not hangs.
        let down = await #expect(throws: RedisError.self) {
          try await client.send(["GET", RedisArgument(k + "before")])
        }
        #expect(down?.code == .unavailable)
        #expect(down?.message.contains(redis.address.description) == true, "\(down?.message ?? "")")

        try await redis.server.start()
        // The client reconnects by itself; the AOF (fsync always) kept the write.
        let value = try await eventually {
          try await client.send(["GET", RedisArgument(k + "before")])
        }
        #expect(value == "kept")
      } catch {
        await client.close()
        throw error
      }
      await client.close()
    }
  }

  @Test func failsFastWhileRedisIsDownAndBacksOff() async throws {
    try await withTestRedis { redis async throws in
      let client = redis.makeClient(
        configuration: .init(reconnectBackoff: .init(initial: .seconds(1), maximum: .seconds(4))))
      #expect(try await client.send(["PING"]) == .simpleString("PONG"))
      await redis.server.kill()
      // The first command notices the drop (lost or unavailable), the next attempt fails to
      // connect, then commands fail at once until the backoff has passed.
      for _ in 0..<2 {
        await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
      }
      let clock = ContinuousClock()
      var error: RedisError?
      let elapsed = await clock.measure {
        for _ in 0..<50 {
          error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
        }
      }
      #expect(elapsed < .milliseconds(500), "50 commands while backing off took \(elapsed)")
      #expect(error?.code == .unavailable)
      #expect(
        error?.message.contains("next reconnect attempt in") == true, "\(error?.message ?? "")")
      await client.close()
    }
  }

  @Test func unreachableAddressNamesItAndTheReason() async throws {
    try await withTemporaryDirectory { directory in
      let address = RedisAddress.unixDomainSocket(path: directory.appending("nobody.sock"))
      let client = RedisClient(address: address)
      let error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
      #expect(error?.code == .unavailable)
      #expect(
        error?.message.contains("Redis at \(address) is unavailable") == true,
        "\(error?.message ?? "")")
      #expect(
        error?.message.contains("No such file or directory") == true, "\(error?.message ?? "")")
      await client.close()
    }
  }
}
