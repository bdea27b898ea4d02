import ResumableRedis
import ResumableTestSupport
import Testing

/// Pipelining: concurrent callers share one connection and get their own replies.
@Suite struct PipelineTests {
  @Test func thousandConcurrentIncrementsShareOneConnection() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let key = RedisArgument(uniqueKeyPrefix() + "counter")
        let seen = try await concurrently(1000) { try await client.send(["INCR", key]).int }
        // Each caller got its own reply: every value from 1 to 1000 exactly once.
        #expect(seen.sorted() == Array(1...1000))
        #expect(try await client.send(["GET", key]).int == 1000)
        // All callers were served by one multiplexed connection.
        #expect(
          Set(try await concurrently(50) { try await client.send(["CLIENT", "ID"]).int }).count == 1
        )
      }
    }
  }

  @Test func pipelineRepliesComeBackInOrder() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let list = RedisArgument(uniqueKeyPrefix() + "list")
        var commands: [[RedisArgument]] = (1...300).map { ["RPUSH", list, RedisArgument($0)] }
        commands.insert(["NO-SUCH-COMMAND"], at: 150)
        let replies = try await client.pipeline(commands)
        #expect(replies.count == 301)
        #expect(replies[150].errorMessage != nil)
        var expected = (1...300).map { RESPValue.integer(Int64($0)) }
        expected.insert(replies[150], at: 150)
        #expect(replies == expected)
        #expect(try await client.pipeline([]) == [])
      }
    }
  }

  @Test func severalConnectionsRoundRobin() async throws {
    try await withTestRedis { redis in
      let client = redis.makeClient(configuration: .init(connections: 3))
      let key = RedisArgument(uniqueKeyPrefix() + "counter")
      _ = try await concurrently(300) { try await client.send(["INCR", key]).int }
      #expect(try await client.send(["GET", key]).int == 300)
      #expect(
        Set(try await concurrently(30) { try await client.send(["CLIENT", "ID"]).int }).count == 3)
      await client.close()
      let error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
      #expect(error?.code == .clientClosed)
    }
  }

  @Test func emptyCommandIsRefusedBeforeSending() async throws {
    let client = RedisClient(address: .unixDomainSocket(path: "/nonexistent/redis.sock"))
    let error = await #expect(throws: RedisError.self) { try await client.send([]) }
    #expect(error?.code == .invalidCommand)
    await client.close()
  }
}

/// Runs `body` `count` times concurrently and returns the (non-nil) results.
func concurrently(_ count: Int, _ body: @escaping @Sendable () async throws -> Int64?) async throws
  -> [Int64]
{
  try await withThrowingTaskGroup(of: Int64?.self) { group in
    for _ in 0..<count { group.addTask(operation: body) }
    var results: [Int64] = []
    for try await value in group { results.append(try #require(value)) }
    return results
  }
}
