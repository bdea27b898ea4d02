internal import ResumableRedis

/// The Lua scripts behind every write. Each runs atomically in Redis: a
/// write is all or nothing, in one round trip.
///
/// Every script takes the run's keys in `RunKeys.scriptKeys` order. Writes
/// check the caller's fencing token against the run's (`FENCED` error reply
/// when stale) and the step the caller expects the run to be at (`CONFLICT`),
/// then refresh the expiry of every key of the run together (`touch`).
enum Scripts {
  /// Shared helpers, prepended to every write script.
  static let prelude = """
    local function touch(ttl)
      for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ttl) end
      redis.call('PEXPIRE', KEYS[6], ttl)
    end
    -- The run's {fence, cursor, status}, if `fence` still owns it; else the problem.
    local function fenced(fence)
      local run = redis.call('HMGET', KEYS[1], 'fence', 'cursor', 'status')
      if not run[1] then return 'NOTFOUND the run does not exist (it may have expired)' end
      if run[1] ~= fence then
        return 'FENCED the run is owned by fencing token ' .. run[1] .. ', not ' .. fence
      end
      return nil, run
    end
    local function check(fence, cursor)
      local problem, run = fenced(fence)
      if problem then return problem end
      if run[2] ~= cursor then
        return 'CONFLICT the run is at step ' .. run[2] .. ', not ' .. cursor
      end
      return nil, run[3]
    end
    local function event(json)
      redis.call('XADD', KEYS[4], 'MAXLEN', '~', 1000, '*', 'event', json)
    end
    local function charge(cost, input_tokens, output_tokens)
      redis.call('HINCRBY', KEYS[1], 'spent', cost)
      redis.call('HINCRBY', KEYS[1], 'in_tokens', input_tokens)
      redis.call('HINCRBY', KEYS[1], 'out_tokens', output_tokens)
    end
    -- The end of every write by a runner: keep its lease, log, refresh expiry.
    local function progress(fence, lease, json, ttl)
      redis.call('SET', KEYS[5], fence, 'PX', lease)
      event(json)
      touch(ttl)
    end

    """

  /// ARGV: now, ttl, lease, schema, workflow, definition, input, first step
  /// name, first step record, event, expires. Returns 1 when created, 0 when
  /// a run with that id exists (nothing written).
  static let create = RedisScript(
    prelude + """
      if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
      redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[6])
      redis.call('HSET', KEYS[1], 'v', ARGV[4], 'workflow', ARGV[5], 'definition', ARGV[6],
        'input', ARGV[7], 'status', 'RUNNING', 'cursor', '0', 'fence', '1', 'created', ARGV[1],
        'updated', ARGV[1], 'expires', ARGV[11], 'spent', '0', 'saved', '0', 'in_tokens', '0',
        'out_tokens', '0', 'resumes', '0')
      redis.call('HSET', KEYS[2], ARGV[8], ARGV[9])
      redis.call('SET', KEYS[5], '1', 'PX', ARGV[3])
      event(ARGV[10])
      touch(ARGV[2])
      return 1
      """)

  /// ARGV: lease ms. Returns the new fencing token, 0 when the lease is
  /// held, -1 when the run does not exist.
  static let acquire = RedisScript(
    """
    if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
    if redis.call('EXISTS', KEYS[5]) == 1 then return 0 end
    local fence = redis.call('HINCRBY', KEYS[1], 'fence', 1)
    redis.call('SET', KEYS[5], fence, 'PX', ARGV[1])
    return fence
    """)

  /// ARGV: fence, lease ms. Returns 1 when the token still owns the run
  /// (the lease is extended, or taken again if it lapsed unclaimed), else 0.
  static let renew = RedisScript(
    """
    if redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then return 0 end
    redis.call('SET', KEYS[5], ARGV[1], 'PX', ARGV[2])
    return 1
    """)

  /// ARGV: lease ms, this server's schema version. The recovery check of
  /// one run: `{'gone'}` when it does not exist, `{'ended', status}` when it
  /// is not RUNNING, `{'newer', version}` when a newer schema version wrote
  /// it (left, untouched, to a server that reads it), `{'held', ms}` while a
  /// runner's lease has `ms` left, else `{'acquired', fence}` with the lease
  /// taken under a new fencing token.
  static let claim = RedisScript(
    """
    local status = redis.call('HGET', KEYS[1], 'status')
    if not status then return {'gone'} end
    if status == 'AWAITING_APPROVAL' then
      -- Waiting for a person until the deadline; then the run fails with that reason.
      local approval = cjson.decode(redis.call('HGET', KEYS[1], 'approval'))
      local left = tonumber(approval.deadline_ms) - tonumber(ARGV[3])
      if left > 0 then return {'held', left} end
      local reason = 'no answer to the approval of step ' .. approval.step .. ' before its deadline'
      redis.call('HSET', KEYS[1], 'status', 'FAILED', 'error', reason, 'updated', ARGV[3])
      redis.call('HDEL', KEYS[1], 'approval', 'held_artifact')
      redis.call('XADD', KEYS[4], 'MAXLEN', '~', 1000, '*', 'event', cjson.encode({
        type = 'run_approval_expired', step = approval.step, attempt = 0, at_ms = tonumber(ARGV[3]),
        message = reason, status = 'FAILED'}))
      return {'ended', 'FAILED'}
    end
    if status ~= 'RUNNING' then return {'ended', status} end
    local version = tonumber(redis.call('HGET', KEYS[1], 'v'))
    if version and version > tonumber(ARGV[2]) then return {'newer', version} end
    local left = redis.call('PTTL', KEYS[5])
    if left ~= -2 then return {'held', left} end
    local fence = redis.call('HINCRBY', KEYS[1], 'fence', 1)
    redis.call('SET', KEYS[5], fence, 'PX', ARGV[1])
    return {'acquired', fence}
    """)

  /// KEYS[1]: the recovery index. ARGV: workflow id, due time. Removes the
  /// entry only if it still has that due time: one rewritten since it was
  /// read (a resume re-adds its run) stays.
  static let unindex = RedisScript(
    """
    local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
    if due and tonumber(due) == tonumber(ARGV[2]) then
      redis.call('ZREM', KEYS[1], ARGV[1])
      return 1
    end
    return 0
    """)

  /// ARGV: fence. Deletes the lease if that token holds it.
  static let release = RedisScript(
    """
    if redis.call('GET', KEYS[5]) == ARGV[1] then redis.call('DEL', KEYS[5]) end
    return 1
    """)

  /// ARGV: fence, cursor, step, step record, now, ttl, lease, expires, event,
  /// resume ('1' or '0'), saved micros, schema version, then (name, record)
  /// pairs of the committed steps a resume updates. A resume rewrites every
  /// committed step's record, so it stores the current schema version too.
  static let begin = RedisScript(
    prelude + """
      local problem, status = check(ARGV[1], ARGV[2])
      if problem then return redis.error_reply(problem) end
      if status ~= 'RUNNING' and status ~= 'FAILED' then
        return redis.error_reply('CONFLICT the run is ' .. status)
      end
      redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
      if ARGV[10] == '1' then
        redis.call('HINCRBY', KEYS[1], 'resumes', 1)
        redis.call('HINCRBY', KEYS[1], 'saved', ARGV[11])
        for i = 13, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
        redis.call('HDEL', KEYS[1], 'error')
        redis.call('HSET', KEYS[1], 'v', ARGV[12])
      elseif status ~= 'RUNNING' then
        return redis.error_reply('CONFLICT the run is ' .. status)
      end
      redis.call('HSET', KEYS[1], 'status', 'RUNNING', 'updated', ARGV[5], 'expires', ARGV[8])
      progress(ARGV[1], ARGV[7], ARGV[9], ARGV[6])
      return 1
      """)

  /// ARGV: fence, cursor, step, artifact, step record, cost micros, input
  /// tokens, output tokens, now, ttl, lease, expires, event, next step name
  /// ('' when this is the last step), next step record, history cap, then
  /// the history messages the step appends (each JSON). The history is
  /// appended (RPUSH) and trimmed from its oldest end (LTRIM), never
  /// rewritten: the write is O(this step's output) whatever the run's size.
  static let commit = RedisScript(
    prelude + """
      local problem, status = check(ARGV[1], ARGV[2])
      if problem then return redis.error_reply(problem) end
      if status ~= 'RUNNING' then return redis.error_reply('CONFLICT the run is ' .. status) end
      redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
      redis.call('HSET', KEYS[2], ARGV[3], ARGV[5])
      redis.call('HDEL', KEYS[1], 'held_artifact')
      local cursor = tostring(tonumber(ARGV[2]) + 1)
      if ARGV[14] ~= '' then
        redis.call('HSET', KEYS[2], ARGV[14], ARGV[15])
        redis.call('HSET', KEYS[1], 'cursor', cursor, 'updated', ARGV[9], 'expires', ARGV[12])
      else
        redis.call('HSET', KEYS[1], 'cursor', cursor, 'status', 'COMPLETED', 'updated', ARGV[9],
          'expires', ARGV[12])
      end
      if #ARGV > 16 then
        redis.call('RPUSH', KEYS[6], unpack(ARGV, 17))
        redis.call('LTRIM', KEYS[6], -tonumber(ARGV[16]), -1)
      end
      charge(ARGV[6], ARGV[7], ARGV[8])
      progress(ARGV[1], ARGV[11], ARGV[13], ARGV[10])
      return 1
      """)

  /// ARGV: fence, cursor, step, step record, cost micros, input tokens,
  /// output tokens, now, ttl, lease, expires, event, run error ('' while
  /// attempts are left; otherwise the run becomes FAILED with it). Also
  /// records a step that waits with no attempt begun (no cost, no error).
  static let fail = RedisScript(
    prelude + """
      local problem, status = check(ARGV[1], ARGV[2])
      if problem then return redis.error_reply(problem) end
      if status ~= 'RUNNING' then return redis.error_reply('CONFLICT the run is ' .. status) end
      redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
      charge(ARGV[5], ARGV[6], ARGV[7])
      if ARGV[13] ~= '' then
        redis.call('HSET', KEYS[1], 'status', 'FAILED', 'error', ARGV[13])
      end
      redis.call('HSET', KEYS[1], 'updated', ARGV[8], 'expires', ARGV[11])
      progress(ARGV[1], ARGV[10], ARGV[12], ARGV[9])
      return 1
      """)

  /// ARGV: '1' to include artifacts, '1' to include the history. Returns
  /// nil when the run does not exist, else [run hash, steps hash, artifacts
  /// hash, history length, history] (hashes as flat arrays), read in one
  /// consistent snapshot.
  static let load = RedisScript(
    """
    local run = redis.call('HGETALL', KEYS[1])
    if #run == 0 then return false end
    local artifacts = {}
    if ARGV[1] == '1' then artifacts = redis.call('HGETALL', KEYS[3]) end
    local history = {}
    if ARGV[2] == '1' then history = redis.call('LRANGE', KEYS[6], 0, -1) end
    return {run, redis.call('HGETALL', KEYS[2]), artifacts, redis.call('LLEN', KEYS[6]), history}
    """)
}
