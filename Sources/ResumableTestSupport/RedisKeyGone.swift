public import ResumableRedis

/// Returns once `key` no longer exists: a key that lapses on its own TTL (a
/// run's lease taken for 1 ms, say), waited for as a condition, not a sleep.
/// - Throws: when it still exists after `timeout`.
public func waitUntilGone(_ key: String, in client: RedisClient, timeout: Duration = .seconds(5)) async throws {
  try await eventually(timeout: timeout, interval: .milliseconds(2)) {
    guard try await client.send(["EXISTS", RedisArgument(key)]).int == 0 else {
      throw TestSupportError("'\(key)' still exists")
    }
  }
}
