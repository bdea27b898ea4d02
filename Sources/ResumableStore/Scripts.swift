internal import ResumableRedis
import ResumableCore

/// The Lua scripts behind every write. Each runs atomically in Redis: a
/// write is all or nothing, in one round trip.
///
/// Every script takes the run's keys in `RunKeys.scriptKeys` order. Writes
/// check the caller's fencing token against the run's (`FENCED` error reply
/// when stale) and the step the caller expects the run to be at (`CONFLICT`),
/// then keep every key of the run expiring together (`touch`: refreshed only
/// when the keys have less than the retention left, so most writes of a run in
/// flight send Redis no `PEXPIRE`).
enum Scripts {
  /// Shared helpers, prepended to every write script.
  static let prelude = """
    local SCHEMA = \(RunRecord.currentSchemaVersion)
    -- The run's expiry: every key of the run (the lease aside) expires together, at
    -- least `ttl` ms after the run's last write and at most a slack later (1/100 of
    -- `ttl`, a minute at most). A refresh gives them `ttl` plus the slack; a write
    -- while they still have `ttl` or more left (`created` given: the runner's writes
    -- of a run in flight) moves nothing, and only gives a key it may have created
    -- (`created`: indexes into KEYS) the time the others have left. Most writes of a
    -- run so send no PEXPIRE, where each sent five (and five AOF lines).
    local function touch(ttl, created)
      ttl = tonumber(ttl)
      local slack = math.min(math.floor(ttl / 100), 60000)
      if created then
        local left = redis.call('PTTL', KEYS[1])
        if left >= ttl and left <= ttl + slack then
          for _, i in ipairs(created) do
            if redis.call('PTTL', KEYS[i]) == -1 then redis.call('PEXPIRE', KEYS[i], left) end
          end
          return
        end
      end
      for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ttl + slack) end
      redis.call('PEXPIRE', KEYS[6], ttl + slack)
    end
    -- A problem when a newer schema version wrote the run: nothing is written to it.
    local function newer(version)
      version = tonumber(version)
      if version and version > SCHEMA then
        return 'NEWER the run was written by schema version ' .. version .. '; this server reads up to ' ..
          SCHEMA .. ': operate it from a server that reads that version'
      end
      return nil
    end
    -- The run's {fence, cursor, status}, if `fence` still owns it; else the problem.
    -- `run`: those fields and `v`, when the caller has read them already.
    local function fenced(fence, run)
      run = run or redis.call('HMGET', KEYS[1], 'fence', 'cursor', 'status', 'v')
      if not run[1] then return 'NOTFOUND the run does not exist (it may have expired)' end
      local problem = newer(run[4])
      if problem then return problem end
      if run[1] ~= fence then
        return 'FENCED the run is owned by fencing token ' .. run[1] .. ', not ' .. fence
      end
      return nil, run
    end
    -- The cursor '-1' is a parallel run's branch: it writes its own step, wherever the run is.
    local function check(fence, cursor, run)
      local problem, run = fenced(fence, run)
      if problem then return problem end
      if cursor ~= '-1' and run[2] ~= cursor then
        return 'CONFLICT the run is at step ' .. run[2] .. ', not ' .. cursor
      end
      return nil, run[3]
    end
    -- Every write script takes its operation id as ARGV[1] and keeps the last
    -- one applied to the run, with its reply: a repeat of a write whose reply
    -- was lost (the connection dropped after Redis ran it) returns that first
    -- reply and writes nothing again.
    -- The branches of a parallel run write side by side, so each keeps its own
    -- (`scope`: the step's name; '' or nil for the run's one).
    local function opfields(scope)
      if not scope or scope == '' then return 'op', 'op_reply' end
      return 'op:' .. scope, 'op_reply:' .. scope
    end
    local function replayed(op, scope)
      local field, reply = opfields(scope)
      local last = redis.call('HMGET', KEYS[1], field, reply)
      if last[1] == op and last[2] then return cjson.decode(last[2]) end
      return nil
    end
    local function applied(op, reply, scope)
      local field, answer = opfields(scope)
      redis.call('HSET', KEYS[1], field, op, answer, cjson.encode(reply))
      return reply
    end
    -- The replay scope of a runner's write: its step's, for a parallel run's branch.
    local function scopeof(cursor, step)
      if cursor == '-1' then return step end
      return ''
    end
    -- The opening of a runner's write to a RUNNING run: nil when it goes on;
    -- else its answer (the first reply of a replayed operation, or the
    -- refusal of a stale fence or cursor, or of a run no longer RUNNING).
    local function enter(op, fence, cursor, scope)
      -- The run's fields and the last operation in one read (what `replayed`, then `check`, read).
      local field, reply = opfields(scope)
      local run = redis.call('HMGET', KEYS[1], 'fence', 'cursor', 'status', 'v', field, reply)
      if run[5] == op and run[6] then return cjson.decode(run[6]) end
      local problem, status = check(fence, cursor, run)
      if problem then return redis.error_reply(problem) end
      if status ~= 'RUNNING' then return redis.error_reply('CONFLICT the run is ' .. status) end
      return nil
    end
    -- A new fencing token, as text (a Lua number would lose digits).
    local function bump()
      return string.format('%.0f', redis.call('HINCRBY', KEYS[1], 'fence', 1))
    end
    local function event(json)
      redis.call('XADD', KEYS[4], 'MAXLEN', '~', 1000, '*', 'event', json)
    end
    -- The ledger's fields; a run created before the cache counts existed gains
    -- them at its first charge (HINCRBY starts a missing field at 0). A count
    -- of 0 writes nothing (an absent field reads as 0).
    local function add(field, amount)
      if amount ~= '0' then redis.call('HINCRBY', KEYS[1], field, amount) end
    end
    local function charge(cost, input_tokens, output_tokens, cached_tokens, cache_write_tokens)
      add('spent', cost)
      add('in_tokens', input_tokens)
      add('out_tokens', output_tokens)
      add('cached_tokens', cached_tokens)
      add('cache_write_tokens', cache_write_tokens)
    end
    -- The end of every write by a runner: keep its lease, log, refresh expiry
    -- (`created`: as `touch` takes it). The events stream is made by `create` and
    -- never deleted; a runner's drive begins with `create`, `resume` (a full
    -- refresh) or `begin`, which checks it (a run from a version before the stream).
    local function progress(fence, lease, json, ttl, created)
      redis.call('SET', KEYS[5], fence, 'PX', lease)
      event(json)
      touch(ttl, created)
    end

    """

  /// ARGV: operation, now, ttl, lease, schema, workflow, definition, input,
  /// first step name, first step record, event, expires, budget (micro-dollars,
  /// '' for none). Returns the run's
  /// first fencing token when created, 0 when a run with that id exists
  /// (nothing written).
  ///
  /// The first token is Redis' clock in microseconds: a run re-created under
  /// the id of one that expired starts above any token the old one reached
  /// (each bump adds 1), so a zombie runner of the old run never matches.
  static let create = RedisScript(
    prelude + """
      local again = replayed(ARGV[1])
      if again then return again end
      if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
      local now = redis.call('TIME')
      local fence = now[1] .. string.format('%06d', tonumber(now[2]))
      redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[6])
      redis.call('HSET', KEYS[1], 'v', ARGV[5], 'workflow', ARGV[6], 'definition', ARGV[7],
        'input', ARGV[8], 'status', 'RUNNING', 'cursor', '0', 'fence', fence, 'created', ARGV[2],
        'updated', ARGV[2], 'expires', ARGV[12], 'spent', '0', 'saved', '0', 'in_tokens', '0',
        'out_tokens', '0', 'resumes', '0')
      if ARGV[13] ~= '' then redis.call('HSET', KEYS[1], 'budget', ARGV[13]) end
      redis.call('HSET', KEYS[2], ARGV[9], ARGV[10])
      redis.call('SET', KEYS[5], fence, 'PX', ARGV[4])
      event(ARGV[11])
      touch(ARGV[3])
      return applied(ARGV[1], fence)
      """)

  /// ARGV: lease ms. Returns the new fencing token, 0 when the lease is
  /// held, -1 when the run does not exist.
  ///
  /// A repeat whose first reply was lost finds the lease held and writes nothing.
  static let acquire = RedisScript(
    prelude + """
      if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
      if redis.call('EXISTS', KEYS[5]) == 1 then return 0 end
      local fence = bump()
      redis.call('SET', KEYS[5], fence, 'PX', ARGV[1])
      return fence
      """)

  /// ARGV: fence, lease ms, ttl ms, expires. Returns 1 when the token still owns the
  /// run (the lease is extended, or taken again if it lapsed unclaimed, and
  /// every key of the run lives `ttl` more: a step longer than the TTL never
  /// has its run expire under it), else 0.
  static let renew = RedisScript(
    prelude + """
      if redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then return 0 end
      redis.call('SET', KEYS[5], ARGV[1], 'PX', ARGV[2])
      redis.call('HSET', KEYS[1], 'expires', ARGV[4])
      touch(ARGV[3], {})
      return 1
      """)

  /// ARGV: lease ms, this server's schema version, now, the retention of a
  /// failed run (ms), now plus that retention. The recovery check of one run: `{'gone'}` when it does
  /// not exist, `{'ended', status}` when it is not RUNNING (an approval whose
  /// deadline passed fails the run here (so does a budget stop's), kept for the failed-run retention), `{'newer', version}` when a newer schema version wrote
  /// it (left, untouched, to a server that reads it), `{'held', ms}` while a
  /// runner's lease has `ms` left, else `{'acquired', fence}` with the lease
  /// taken under a new fencing token.
  static let claim = RedisScript(
    prelude + """
    local status = redis.call('HGET', KEYS[1], 'status')
    if not status then return {'gone'} end
    if status == 'AWAITING_APPROVAL' or status == 'AWAITING_BUDGET' then
      -- Waiting for a person until the deadline; then the run fails with that reason.
      local approval = cjson.decode(redis.call('HGET', KEYS[1], 'approval'))
      local left = tonumber(approval.deadline_ms) - tonumber(ARGV[3])
      if left > 0 then return {'held', left} end
      local reason = 'no answer to the approval of step ' .. approval.step .. ' before its deadline'
      if approval.kind == 'budget' then
        reason = 'no answer to the budget stop at step ' .. approval.step .. ' before its deadline'
      end
      redis.call('HSET', KEYS[1], 'status', 'FAILED', 'error', reason, 'updated', ARGV[3],
        'expires', ARGV[5])
      redis.call('HDEL', KEYS[1], 'approval', 'held_artifact')
      event(cjson.encode({
        type = 'run_approval_expired', step = approval.step, attempt = 0, at_ms = tonumber(ARGV[3]),
        message = reason, status = 'FAILED'}))
      touch(ARGV[4])
      return {'ended', 'FAILED'}
    end
    if status ~= 'RUNNING' then return {'ended', status} end
    local version = tonumber(redis.call('HGET', KEYS[1], 'v'))
    if version and version > tonumber(ARGV[2]) then return {'newer', version} end
    local left = redis.call('PTTL', KEYS[5])
    if left ~= -2 then return {'held', left} end
    local fence = bump()
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

  /// ARGV: operation, fence, cursor, step, step record, now, ttl, lease, expires, event,
  /// resume ('1' or '0'), saved micros, schema version, then (name, record)
  /// pairs of the committed steps a resume updates. A resume rewrites every
  /// committed step's record, so it stores the current schema version too.
  static let begin = RedisScript(
    prelude + """
      local scope = scopeof(ARGV[3], ARGV[4])
      local again = replayed(ARGV[1], scope)
      if again then return again end
      local problem, status = check(ARGV[2], ARGV[3])
      if problem then return redis.error_reply(problem) end
      -- Only a resume begins on a FAILED run; refused before anything is written.
      if status ~= 'RUNNING' and (status ~= 'FAILED' or ARGV[11] ~= '1') then
        return redis.error_reply('CONFLICT the run is ' .. status)
      end
      redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
      if ARGV[11] == '1' then
        redis.call('HINCRBY', KEYS[1], 'resumes', 1)
        redis.call('HINCRBY', KEYS[1], 'saved', ARGV[12])
        for i = 14, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
        redis.call('HDEL', KEYS[1], 'error')
        redis.call('HSET', KEYS[1], 'v', ARGV[13])
      end
      redis.call('HSET', KEYS[1], 'status', 'RUNNING', 'updated', ARGV[6], 'expires', ARGV[9])
      progress(ARGV[2], ARGV[8], ARGV[10], ARGV[7], {4})
      return applied(ARGV[1], 1, scope)
      """)

  /// ARGV: operation, fence, cursor ('-1' for a parallel run's branch), step,
  /// artifact, step record, cost micros, input tokens, output tokens, now, ttl,
  /// lease, expires, event, next step name ('' when this is the last step; a
  /// branch: the map item its lane begins along, or ''), next step record,
  /// history cap, cached input tokens, cache write tokens, the run's cursor
  /// now (a branch; '' otherwise), the event of the item begun along (''
  /// when none), then the history messages the step appends (each JSON). The
  /// history is appended (RPUSH) and trimmed from its oldest end (LTRIM),
  /// never rewritten: the write is O(this step's output) whatever the run's size.
  static let commit = RedisScript(
    prelude + """
      local scope = scopeof(ARGV[3], ARGV[4])
      local answer = enter(ARGV[1], ARGV[2], ARGV[3], scope)
      if answer then return answer end
      redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
      redis.call('HSET', KEYS[2], ARGV[4], ARGV[6])
      redis.call('HDEL', KEYS[1], 'held_artifact')
      local cursor = tostring(tonumber(ARGV[3]) + 1)
      if ARGV[3] == '-1' then
        -- A parallel run's branch: the run goes on (its completion is a write of its
        -- own). The cursor, the first step not committed in list order for those
        -- who read one, only moves forward: ARGV[20] is where it is now.
        if tonumber(ARGV[20]) > tonumber(redis.call('HGET', KEYS[1], 'cursor')) then
          redis.call('HSET', KEYS[1], 'cursor', ARGV[20])
        end
        -- A map item's lane begins its next item along (its own event follows).
        if ARGV[15] ~= '' then redis.call('HSET', KEYS[2], ARGV[15], ARGV[16]) end
        redis.call('HSET', KEYS[1], 'updated', ARGV[10], 'expires', ARGV[13])
      elseif ARGV[15] ~= '' then
        redis.call('HSET', KEYS[2], ARGV[15], ARGV[16])
        redis.call('HSET', KEYS[1], 'cursor', cursor, 'updated', ARGV[10], 'expires', ARGV[13])
      else
        redis.call('HSET', KEYS[1], 'cursor', cursor, 'status', 'COMPLETED', 'updated', ARGV[10],
          'expires', ARGV[13])
      end
      -- The keys this commit may have made: the artifacts at the run's first step (a
      -- re-run from there empties them) or in a branch; the history when RPUSH made it.
      local created = {}
      if ARGV[3] == '0' or ARGV[3] == '-1' then created[1] = 3 end
      if #ARGV > 21 then
        if redis.call('RPUSH', KEYS[6], unpack(ARGV, 22)) == #ARGV - 21 then created[#created + 1] = 6 end
        redis.call('LTRIM', KEYS[6], -tonumber(ARGV[17]), -1)
      end
      charge(ARGV[7], ARGV[8], ARGV[9], ARGV[18], ARGV[19])
      progress(ARGV[2], ARGV[12], ARGV[14], ARGV[11], created)
      if ARGV[21] ~= '' then event(ARGV[21]) end
      return applied(ARGV[1], 1, scope)
      """)

  /// ARGV: operation, fence, cursor, step, step record, cost micros, input
  /// tokens, output tokens, now, ttl, lease, expires, event, run error ('' while
  /// attempts are left; otherwise the run becomes FAILED with it), cached
  /// input tokens, cache write tokens. Also
  /// records a step that waits with no attempt begun (no cost, no error).
  static let fail = RedisScript(
    prelude + """
      local scope = scopeof(ARGV[3], ARGV[4])
      local answer = enter(ARGV[1], ARGV[2], ARGV[3], scope)
      if answer then return answer end
      redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
      charge(ARGV[6], ARGV[7], ARGV[8], ARGV[15], ARGV[16])
      if ARGV[14] ~= '' then
        redis.call('HSET', KEYS[1], 'status', 'FAILED', 'error', ARGV[14])
      end
      redis.call('HSET', KEYS[1], 'updated', ARGV[9], 'expires', ARGV[12])
      progress(ARGV[2], ARGV[11], ARGV[13], ARGV[10], {})
      return applied(ARGV[1], 1, scope)
      """)

  /// ARGV: operation, fence, step count, now, ttl, lease, expires, event. A
  /// parallel run's end once every branch has committed: COMPLETED, its cursor
  /// past the last step.
  static let complete = RedisScript(
    prelude + """
      local answer = enter(ARGV[1], ARGV[2], '-1', '')
      if answer then return answer end
      redis.call('HSET', KEYS[1], 'status', 'COMPLETED', 'cursor', ARGV[3], 'updated', ARGV[4],
        'expires', ARGV[7])
      progress(ARGV[2], ARGV[6], ARGV[8], ARGV[5], {})
      return applied(ARGV[1], 1)
      """)

  /// The reading of a run the load script and the resume script share: a Lua
  /// function `read(artifacts, history, input)` whose result is the load
  /// script's reply (`RunRecordDecoder.loaded`).
  static let reader = """
    local function read(with_artifacts, with_history, with_input)
      local run
      if with_input then
        run = redis.call('HMGET', KEYS[1], \(RunRecordDecoder.Field.luaList))
      else
        run = redis.call('HMGET', KEYS[1], \(RunRecordDecoder.Field.allCases.dropLast().map { "'\($0.name)'" }.joined(separator: ", ")))
      end
      local artifacts = {}
      if with_artifacts then artifacts = redis.call('HGETALL', KEYS[3]) end
      local history = {}
      if with_history then history = redis.call('LRANGE', KEYS[6], 0, -1) end
      return {run, redis.call('HGETALL', KEYS[2]), artifacts, redis.call('LLEN', KEYS[6]), history}
    end

    """

  /// ARGV: '1' to include artifacts, '1' to include the history, '1' to
  /// include the input. Returns nil when the run does not exist, else [the
  /// run's fields (`RunRecordDecoder.Field`, in its order; `input` only when
  /// asked for), steps hash, artifacts hash, history length, history] (hashes
  /// as flat arrays), read in one consistent snapshot. Only the fields a
  /// reader decodes cross the wire: not the last write's reply, nor the input
  /// of a `GetState`.
  static let load = RedisScript(
    reader + """
    if redis.call('EXISTS', KEYS[1]) == 0 then return false end
    return read(ARGV[1] == '1', ARGV[2] == '1', ARGV[3] == '1')
    """)
}
