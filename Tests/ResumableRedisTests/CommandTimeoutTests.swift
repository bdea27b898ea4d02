import Foundation
import ResumableRedis
import ResumableTestSupport
import Testing

/// A Redis that hangs (`SIGSTOP`, for real): commands fail within their deadline instead of
/// waiting forever, and the client reconnects once Redis answers again.
@Suite struct CommandTimeoutTests {
  static let configuration = RedisClient.Configuration(
    connectTimeout: .seconds(2), reconnectBackoff: .init(initial: .milliseconds(10), maximum: .milliseconds(200)),
    commandTimeout: .seconds(1))

  @Test func aStoppedRedisTimesOutThenTheClientReconnects() async throws {
    try await withTestRedis { redis async throws in
      let client = redis.makeClient(configuration: Self.configuration)
      let key = RedisArgument(uniqueKeyPrefix() + "k")
      #expect(try await client.send(["PING"]) == .simpleString("PONG"))
      #expect(client.establishedConnections == 1)

      try redis.freeze()
      // Several callers at once: the oldest one's deadline fails them all.
      let calls = try await answered(within: .seconds(10), "commands to a stopped Redis") {
        try await withThrowingTaskGroup(of: RedisError?.self) { group in
          for _ in 0..<5 {
            group.addTask {
              do throws(RedisError) {
                _ = try await client.send(["SET", key, "written while stopped"])
                return nil
              } catch {
                return error
              }
            }
          }
          return try await group.reduce(into: [RedisError?]()) { $0.append($1) }
        }
      }.get()
      #expect(calls.count == 5)
      for error in calls {
        let error = try #require(error, "a command to a stopped Redis succeeded")
        #expect(error.code == .timedOut)
        // Sent, so possibly applied: Redis reads it when it runs again.
        #expect(error.mayHaveRun)
        #expect(error.message.contains("did not answer within 1 s"), "\(error.message)")
        #expect(error.message.contains("the connection was dropped"), "\(error.message)")
      }
      // The next command reconnects (the kernel accepts for the stopped server) and times
      // out in turn: still an answer, never a hang.
      let again = try await answered(within: .seconds(10), "a command after the drop") {
        try await client.send(["GET", key])
      }
      #expect((again.failureValue as? RedisError)?.code == .timedOut, "\(again)")

      try redis.thaw()
      let value = try await eventually(timeout: .seconds(10)) { try await client.send(["GET", key]) }
      #expect(value == "written while stopped" || value == .null)
      #expect(try await client.send(["SET", key, "after"]) == .simpleString("OK"))
      #expect(try await client.send(["GET", key]) == "after")
      #expect(client.establishedConnections >= 3, "dropped twice, so connected at least three times")
      await client.close()
    }
  }

  @Test func aSlowReplyWithinTheDeadlineIsKept() async throws {
    try await withTestRedis { redis async throws in
      var configuration = Self.configuration
      configuration.commandTimeout = .seconds(3)
      let client = redis.makeClient(configuration: configuration)
      // BLPOP answers after 0.1 s, well within the 3 s deadline (room for a
      // loaded machine): the connection stays.
      #expect(try await client.send(["BLPOP", RedisArgument(uniqueKeyPrefix() + "none"), "0.1"]) == .null)
      for _ in 0..<3 { #expect(try await client.send(["PING"]) == .simpleString("PONG")) }
      #expect(client.establishedConnections == 1)
      await client.close()
    }
  }

  @Test func noDeadlineWaitsForABlockingCommand() async throws {
    try await withTestRedis { redis async throws in
      var configuration = Self.configuration
      configuration.commandTimeout = nil
      let client = redis.makeClient(configuration: configuration)
      #expect(try await client.send(["BLPOP", RedisArgument(uniqueKeyPrefix() + "none"), "0.6"]) == .null)
      #expect(client.establishedConnections == 1)
      await client.close()
    }
  }
}
