public import ResumableCore
import ResumableRedis

/// Shared limits: one hash per limiter, `PREFIX:limit:{NAME}` (or
/// `PREFIX:limit:{NAME|KEY}` for a keyed one), changed only by
/// `Scripts.limit`, so every server sees one limiter and it stays in one
/// Redis Cluster slot. Fields: `tat` (a rate's theoretical arrival time),
/// `tokens` and `at` (a token bucket), `h:HOLDER` → lease end (concurrency
/// slots), `hold` (a provider's retry-after, for every kind).
extension RedisStateStore {
  static func limitKey(keyPrefix: String, limiter: Limiter) -> String {
    "\(keyPrefix):limit:{\(limiter.name)\(limiter.key.map { "|\($0)" } ?? "")}"
  }

  /// The limit's kind and settings as the script takes them.
  private static func settings(_ limit: SharedLimit) -> [RedisArgument] {
    switch limit.kind {
    case .rate(let count, let perMs, let burst): ["rate", RedisArgument(count), RedisArgument(perMs), RedisArgument(burst)]
    case .concurrency(let slots): ["concurrency", RedisArgument(slots), "0", "0"]
    case .tokensPerMinute(let perMinute): ["tokens", RedisArgument(perMinute), "0", "0"]
    }
  }

  private func limitScript(_ limiter: Limiter, _ operation: String, nowMs: Int64, _ rest: [RedisArgument]) async throws(StoreError)
    -> RESPValue
  {
    let key = Self.limitKey(keyPrefix: prefix, limiter: limiter)
    do {
      let reply = try await client.evalScript(
        Scripts.limit, keys: [RedisArgument(key)],
        arguments: [RedisArgument(operation), RedisArgument(nowMs)] + Self.settings(limiter.limit) + rest)
      if let message = reply.errorMessage { throw StoreError(redisReply: message, about: "the limiter \(key)") }
      return reply
    } catch let error as StoreError {
      throw error
    } catch let error as RedisError {
      throw StoreError(redis: error)
    } catch {
      throw StoreError(.unavailable, "\(error)")
    }
  }

  public func acquireLimit(_ limiter: Limiter, holder: String, tokens: UInt64, leaseMs: Int64, nowMs: Int64) async throws(StoreError)
    -> LimitAnswer
  {
    let reply = try await limitScript(
      limiter, "acquire", nowMs: nowMs, [RedisArgument(holder), RedisArgument(tokens), RedisArgument(leaseMs)])
    guard let parts = reply.array, let verdict = parts.first?.string else {
      throw StoreError(.corrupt, "unexpected reply to the limit script: \(reply)")
    }
    if verdict == "ok" { return .granted }
    guard verdict == "wait", parts.count == 3, let until = parts[1].int, let why = parts[2].string.flatMap(LimitWait.init(rawValue:))
    else {
      throw StoreError(.corrupt, "unexpected reply to the limit script: \(reply)")
    }
    return .wait(untilMs: Int64(until), why: why)
  }

  public func releaseLimit(_ limiter: Limiter, holder: String, reserved: UInt64, used: UInt64?, nowMs: Int64) async throws(StoreError) {
    _ = try await limitScript(
      limiter, "release", nowMs: nowMs,
      [RedisArgument(holder), RedisArgument(reserved), used.map { RedisArgument($0) } ?? "", "0"])
  }

  public func renewLimit(_ limiter: Limiter, holder: String, leaseMs: Int64, nowMs: Int64) async throws(StoreError) {
    _ = try await limitScript(limiter, "renew", nowMs: nowMs, [RedisArgument(holder), "0", RedisArgument(leaseMs)])
  }

  public func holdLimit(_ limiter: Limiter, untilMs: Int64) async throws(StoreError) {
    _ = try await limitScript(limiter, "hold", nowMs: untilMs, ["", "0", "0"])
  }
}

extension Scripts {
  /// KEYS: the limiter. ARGV: operation (acquire, release, renew, hold), now
  /// (for hold: until), kind (rate, concurrency, tokens), its three numbers
  /// (rate: count, per_ms, burst; concurrency: slots; tokens: per minute),
  /// holder, tokens (reserved), then for acquire/renew the lease ms, for
  /// release the tokens used ('' for none).
  /// acquire returns {'ok'} or {'wait', until ms, why}.
  /// The arithmetic is `LimitMath`'s (the in-memory store runs that).
  static let limit = RedisScript(
    """
    local op, now, kind = ARGV[1], tonumber(ARGV[2]), ARGV[3]
    local a, b, c = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
    local holder, tokens = ARGV[7], tonumber(ARGV[8])
    local key = KEYS[1]
    local function keep(ms) if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end end
    if op == 'hold' then
      local held = tonumber(redis.call('HGET', key, 'hold') or '0')
      if now > held then redis.call('HSET', key, 'hold', now) end
      local clock = redis.call('TIME')
      keep(math.max(0, now - (tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000))) + 60000)
      return 1
    end
    if op == 'renew' then
      if redis.call('HEXISTS', key, 'h:' .. holder) == 1 then
        redis.call('HSET', key, 'h:' .. holder, now + tonumber(ARGV[9]))
        keep(tonumber(ARGV[9]) + 60000)
      end
      return 1
    end
    if op == 'release' then
      if kind == 'concurrency' then redis.call('HDEL', key, 'h:' .. holder) end
      if kind == 'tokens' and ARGV[9] ~= '' then
        local perMinute = a
        local have = tonumber(redis.call('HGET', key, 'tokens') or perMinute)
        local at = tonumber(redis.call('HGET', key, 'at') or now)
        have = math.min(perMinute, have + math.max(0, now - at) * perMinute / 60000)
        have = math.min(perMinute, have + tokens - tonumber(ARGV[9]))
        redis.call('HSET', key, 'tokens', tostring(have), 'at', now)
        keep(120000)
      end
      return 1
    end
    -- acquire
    local held = tonumber(redis.call('HGET', key, 'hold') or '0')
    if held > now then return {'wait', held, 'held'} end
    if kind == 'rate' then
      local interval = b / a
      local tat = tonumber(redis.call('HGET', key, 'tat') or now)
      local nextTat = math.max(tat, now) + interval
      if nextTat > now + c * interval then
        return {'wait', math.ceil(nextTat - c * interval), 'rate'}
      end
      redis.call('HSET', key, 'tat', tostring(nextTat))
      keep(math.ceil(c * interval) + 60000)
      return {'ok'}
    end
    if kind == 'concurrency' then
      local fields = redis.call('HGETALL', key)
      local count, soonest = 0, nil
      for i = 1, #fields, 2 do
        if string.sub(fields[i], 1, 2) == 'h:' then
          local ends = tonumber(fields[i + 1])
          if ends <= now then
            redis.call('HDEL', key, fields[i])
          elseif fields[i] ~= 'h:' .. holder then
            count = count + 1
            if not soonest or ends < soonest then soonest = ends end
          end
        end
      end
      if count >= a then return {'wait', soonest, 'full'} end
      redis.call('HSET', key, 'h:' .. holder, now + tonumber(ARGV[9]))
      keep(tonumber(ARGV[9]) + 60000)
      return {'ok'}
    end
    -- tokens
    local perMinute = a
    local have = tonumber(redis.call('HGET', key, 'tokens') or perMinute)
    local at = tonumber(redis.call('HGET', key, 'at') or now)
    have = math.min(perMinute, have + math.max(0, now - at) * perMinute / 60000)
    local needed = math.min(tokens, perMinute)
    if have < needed then
      return {'wait', now + math.max(1, math.ceil((needed - have) * 60000 / perMinute)), 'tokens'}
    end
    redis.call('HSET', key, 'tokens', tostring(have - tokens), 'at', now)
    keep(120000)
    return {'ok'}
    """)
}
