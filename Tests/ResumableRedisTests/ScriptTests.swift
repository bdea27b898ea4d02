import ResumableRedis
import ResumableTestSupport
import Testing

@testable import ResumableRedis

@Suite struct ScriptTests {
  static let script = RedisScript("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}")

  @Test func evalScriptLoadsOnFirstUseAndAfterFlush() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let key = RedisArgument(uniqueKeyPrefix() + "n")
        #expect(
          try await client.send(["SCRIPT", "EXISTS", RedisArgument(Self.script.sha1)])
            == .array([.integer(0)]))
        let first = try await client.evalScript(Self.script, keys: [key], arguments: ["a"])
        #expect(first == .array([.bulkString(key.bytes), "a", .integer(1)]))
        #expect(
          try await client.send(["SCRIPT", "EXISTS", RedisArgument(Self.script.sha1)])
            == .array([.integer(1)]))

        #expect(try await client.send(["SCRIPT", "FLUSH"]) == .simpleString("OK"))
        // Many callers hit NOSCRIPT at once; each reloads and retries once.
        let values = try await concurrently(20) {
          try await client.evalScript(Self.script, keys: [key], arguments: ["b"]).array?[2].int
        }
        #expect(values.sorted() == Array(2...21))
      }
    }
  }

  @Test func errorRepliesOfScriptsAreThrown() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let failing = RedisScript("return redis.error_reply('FENCED token is stale')")
        let error = await #expect(throws: RedisError.self) {
          try await client.evalScript(failing, keys: [], arguments: [])
        }
        #expect(error?.code == .server)
        #expect(error?.message == "FENCED token is stale")
        let broken = RedisScript("this is not lua")
        let compileError = await #expect(throws: RedisError.self) {
          try await client.evalScript(broken, keys: [], arguments: [])
        }
        #expect(compileError?.code == .server)
      }
    }
  }

  @Test(arguments: [
    ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    (
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
    ),
    ("The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"),
  ])
  func sha1KnownVectors(input: String, digest: String) {
    #expect(SHA1.hexDigest(input.utf8) == digest)
  }

  /// FIPS 180's million `a`s, apart: as a test argument it would print a line of 1 MB.
  @Test func sha1OfAMillionAs() {
    let input = String(repeating: "a", count: 1_000_000)
    #expect(SHA1.hexDigest(input.utf8) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
  }

  /// Every length around the 55/56/64-byte padding boundaries, checked against Redis' own SHA-1.
  @Test func sha1MatchesRedisForEveryPaddingBoundary() async throws {
    try await withTestRedis { redis in
      try await redis.withClient { client in
        let scripts = (0..<140).map { RedisScript("return '\(String(repeating: "x", count: $0))'") }
        let replies = try await client.pipeline(
          scripts.map { ["SCRIPT", "LOAD", RedisArgument($0.source)] })
        #expect(replies.map(\.string) == scripts.map(\.sha1))
      }
    }
  }
}
