import ResumableRedis
import ResumableTestSupport
import Testing

/// Every RESP2 reply type, produced by a real redis-server and copied out of hiredis.
@Suite struct RESPValueTests {
  @Test func everyReplyTypeRoundTrips() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let k = uniqueKeyPrefix()
        #expect(try await client.send(["SET", "\(k)a", "1"]) == .simpleString("OK"))
        #expect(try await client.send(["INCRBY", "\(k)a", "41"]) == .integer(42))
        #expect(try await client.send(["GET", "\(k)a"]) == "42")
        #expect(try await client.send(["GET", "\(k)missing"]) == .null)
        #expect(try await client.send(["LRANGE", "\(k)missing", "0", "-1"]) == .array([]))
        // The nil array (*-1): BLPOP timing out.
        #expect(try await client.send(["BLPOP", "\(k)missing", "0.01"]) == .null)
        #expect(try await client.send(["MGET", "\(k)a", "\(k)missing"]) == .array(["42", .null]))
        let error = try await client.send(["NO-SUCH-COMMAND", "x"])
        #expect(error.errorMessage?.hasPrefix("ERR unknown command") == true)
      }
    }
  }

  @Test func nestedArraysAndScriptReplyTypes() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let nested = try await client.send([
          "EVAL", "return {1, {2, {'x', {}}}, redis.status_reply('FINE'), 'y'}", "0",
        ])
        #expect(
          nested
            == .array([
              .integer(1), .array([.integer(2), .array(["x", .array([])])]), .simpleString("FINE"),
              "y",
            ]))
        let error = try await client.send(["EVAL", "return redis.error_reply('MY failure')", "0"])
        #expect(error == .error("MY failure"))
      }
    }
  }

  @Test func binaryEmptyAndLargeValues() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let k = uniqueKeyPrefix()
        let binary: [UInt8] = [0, 13, 10, 0xFF, 0, 36, 42, 13, 10, 13]
        let large = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        let replies = try await client.pipeline([
          ["SET", "\(k)binary", RedisArgument(binary)],
          ["SET", "\(k)empty", ""],
          ["SET", "\(k)large", RedisArgument(large)],
          ["GET", "\(k)binary"],
          ["GET", "\(k)empty"],
          ["GET", "\(k)large"],
          ["STRLEN", "\(k)large"],
        ])
        #expect(replies.prefix(3).allSatisfy { $0 == .simpleString("OK") })
        #expect(replies[3] == .bulkString(binary))
        #expect(replies[4] == .bulkString([]))
        #expect(replies[5].bytes == large)
        #expect(replies[6] == .integer(1 << 20))
      }
    }
  }

  @Test func typedAccessors() {
    #expect(RESPValue.bulkString(Array("12".utf8)).int == 12)
    #expect(RESPValue.integer(-3).int == -3)
    #expect(RESPValue.simpleString("OK").string == "OK")
    #expect(RESPValue.bulkString([0xFF, 0xFE]).string == nil)
    #expect(RESPValue.bulkString([0xFF, 0xFE]).bytes == [0xFF, 0xFE])
    #expect(RESPValue.null.isNull)
    #expect(RESPValue.null.string == nil)
    #expect(RESPValue.array(["a"]).array == ["a"])
    #expect(RESPValue.error("ERR x").errorMessage == "ERR x")
    #expect(RESPValue.integer(1).array == nil)
    #expect(
      RESPValue.array([.integer(1), .null, "x"]).description == "[(integer) 1, (nil), \"x\"]")
  }
}
