public import ResumableCore
import ResumableRedis

/// Spend windows (`--max-spend-per-hour`, `max_spend_per_hour_usd`): one hash
/// per window, `PREFIX:spend:{server}` or `PREFIX:spend:{wf:NAME}`, whose
/// fields are minutes since the epoch and whose values are micro-dollars spent
/// in that minute. One key each, so every command on it stays in one Redis
/// Cluster slot.
extension RedisStateStore {
  /// The key of `window`.
  static func spendKey(keyPrefix: String, window: SpendWindow) -> String {
    switch window {
    case .server: "\(keyPrefix):spend:{server}"
    case .workflow(let name): "\(keyPrefix):spend:{wf:\(name)}"
    }
  }

  public func addSpend(_ micros: Int64, to window: SpendWindow, nowMs: Int64) async throws(StoreError) {
    guard micros > 0 else { return }
    let key = Self.spendKey(keyPrefix: prefix, window: window)
    do {
      _ = try await client.evalScript(
        Scripts.addSpend, keys: [RedisArgument(key)],
        arguments: [RedisArgument(SpendWindow.minute(ofMs: nowMs)), RedisArgument(micros)])
    } catch {
      throw StoreError(redis: error)
    }
  }

  public func readSpend(_ window: SpendWindow, nowMs: Int64) async throws(StoreError) -> SpendReading {
    let key = Self.spendKey(keyPrefix: prefix, window: window)
    let oldest = SpendWindow.minute(ofMs: nowMs) - SpendWindow.minutes + 1
    let reply: RESPValue
    do {
      reply = try await client.evalScript(Scripts.readSpend, keys: [RedisArgument(key)], arguments: [RedisArgument(oldest)])
    } catch {
      throw StoreError(redis: error)
    }
    guard let flat = reply.array, flat.count % 2 == 0 else {
      throw StoreError(.corrupt, "unexpected reply to the spend window script: \(reply)")
    }
    var parts: [Int64: Int64] = [:]
    for pair in stride(from: 0, to: flat.count, by: 2) {
      guard let minute = flat[pair].string.flatMap({ Int64($0) }), let micros = flat[pair + 1].string.flatMap({ Int64($0) })
      else {
        throw StoreError(.corrupt, "the spend window \(key) holds a bad part: \(flat[pair]) = \(flat[pair + 1])")
      }
      parts[minute] = micros
    }
    return SpendReading(parts: parts, nowMs: nowMs)
  }
}

extension Scripts {
  /// KEYS: the window. ARGV: minute, micro-dollars. Adds them to the minute;
  /// the window lives two hours past its last spending.
  static let addSpend = RedisScript(
    """
    redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
    redis.call('PEXPIRE', KEYS[1], 7200000)
    return 1
    """)

  /// KEYS: the window. ARGV: the oldest minute still in it. Drops older
  /// minutes and returns the rest as {minute, micros, …}.
  static let readSpend = RedisScript(
    """
    local parts = redis.call('HGETALL', KEYS[1])
    local live = {}
    local oldest = tonumber(ARGV[1])
    for i = 1, #parts, 2 do
      if tonumber(parts[i]) < oldest then
        redis.call('HDEL', KEYS[1], parts[i])
      else
        live[#live + 1] = parts[i]
        live[#live + 1] = parts[i + 1]
      end
    end
    return live
    """)
}
