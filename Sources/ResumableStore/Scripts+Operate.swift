internal import ResumableRedis

extension Scripts {
  /// ARGV: operation, reason, now, event, expires, retention ttl. Cancels a run that has
  /// not ended: CANCELLED with the reason as its error, the fencing token
  /// bumped (a runner still at work can write nothing more, and its lease
  /// renewal fails) and the lease dropped. Returns `{'cancelled', previous
  /// status}`, `{'ended', status}` (COMPLETED or CANCELLED: nothing written)
  /// or `{'gone'}`.
  static let cancel = RedisScript(
    prelude + """
      local again = replayed(ARGV[1])
      if again then return again end
      local run = redis.call('HMGET', KEYS[1], 'status', 'v')
      local status = run[1]
      if not status then return {'gone'} end
      local problem = newer(run[2])
      if problem then return redis.error_reply(problem) end
      if status == 'COMPLETED' or status == 'CANCELLED' then return {'ended', status} end
      bump()
      redis.call('HSET', KEYS[1], 'status', 'CANCELLED', 'error', ARGV[2], 'updated', ARGV[3],
        'expires', ARGV[5])
      redis.call('DEL', KEYS[5])
      event(ARGV[4])
      touch(ARGV[6])
      return applied(ARGV[1], {'cancelled', status})
      """)

  /// ARGV: operation, fence, from cursor, now, ttl, lease, expires, event, saved micros,
  /// schema version, count of artifacts to discard, their names…, then
  /// (name, record) pairs of the step records to write (the committed steps
  /// before the cursor with what the re-run saved, the step at the cursor
  /// with its attempt begun, the later steps reset). The run must be
  /// COMPLETED or FAILED and leased by the fence.
  static let rerun = RedisScript(
    prelude + """
      local again = replayed(ARGV[1])
      if again then return again end
      local problem, run = fenced(ARGV[2])
      if problem then return redis.error_reply(problem) end
      if run[3] ~= 'COMPLETED' and run[3] ~= 'FAILED' then
        return redis.error_reply('CONFLICT the run is ' .. run[3])
      end
      -- Never past the first step not committed (the run's cursor).
      if tonumber(ARGV[3]) > tonumber(run[2]) then
        return redis.error_reply('CONFLICT the run is at step ' .. run[2] .. '; a re-run cannot start after it')
      end
      local discard = tonumber(ARGV[11])
      if discard > 0 then
        -- Their artifacts, and their records (a map step's items have no record written back).
        redis.call('HDEL', KEYS[3], unpack(ARGV, 12, 11 + discard))
        redis.call('HDEL', KEYS[2], unpack(ARGV, 12, 11 + discard))
      end
      for i = 12 + discard, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
      redis.call('HINCRBY', KEYS[1], 'resumes', 1)
      redis.call('HINCRBY', KEYS[1], 'saved', ARGV[9])
      -- A re-run asks again for any approval it passes.
      redis.call('HDEL', KEYS[1], 'error', 'approved_cursor')
      redis.call('HSET', KEYS[1], 'status', 'RUNNING', 'cursor', ARGV[3], 'updated', ARGV[4],
        'expires', ARGV[7], 'v', ARGV[10])
      progress(ARGV[2], ARGV[6], ARGV[8], ARGV[5])
      return applied(ARGV[1], 1)
      """)

  /// ARGV: operation, fence, cursor, step, step record, approval (JSON), held artifact ('' for
  /// none), cost micros, input tokens, output tokens, now, ttl, expires, event, status, cached
  /// input tokens, cache write tokens. The run becomes AWAITING_APPROVAL (or AWAITING_BUDGET);
  /// the held attempt's cost is charged; the lease is given up (nobody drives a run waiting for
  /// a person).
  static let requestApproval = RedisScript(
    prelude + """
      local answer = enter(ARGV[1], ARGV[2], ARGV[3])
      if answer then return answer end
      redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
      redis.call('HSET', KEYS[1], 'status', ARGV[15], 'approval', ARGV[6], 'updated', ARGV[11],
        'expires', ARGV[13])
      if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'held_artifact', ARGV[7]) end
      charge(ARGV[8], ARGV[9], ARGV[10], ARGV[16], ARGV[17])
      redis.call('DEL', KEYS[5])
      event(ARGV[14])
      touch(ARGV[12])
      return applied(ARGV[1], 1)
      """)

  /// ARGV: operation, token, '1' to approve or '0' to reject, now, lease ms, event (its step is
  /// filled in here), the rejection's error after the step's name (': note' or ''), rejection ttl,
  /// rejection expires, the status answered (AWAITING_APPROVAL or AWAITING_BUDGET), the
  /// refusal when the run is not at it, the new budget ('' for none), the rejection's error
  /// before the step's name. One answer per token: the first wins.
  /// Returns `{'approved', fence, approval JSON, held artifact or false}`,
  /// `{'rejected'}`, `{'refused', why}` or `{'gone'}`.
  static let answerApproval = RedisScript(
    prelude + """
      local again = replayed(ARGV[1])
      if again then
        -- The held artifact is not copied into the stored reply: read it again
        -- (it stays until the approving runner commits it).
        if again[1] == 'approved' then again[4] = redis.call('HGET', KEYS[1], 'held_artifact') end
        return again
      end
      local run = redis.call('HMGET', KEYS[1], 'status', 'approval', 'held_artifact', 'v')
      if not run[1] then return {'gone'} end
      local problem = newer(run[4])
      if problem then return redis.error_reply(problem) end
      if run[1] ~= ARGV[10] then
        return {'refused', 'the run is ' .. run[1] .. ARGV[11]}
      end
      local approval = cjson.decode(run[2])
      if approval.token ~= ARGV[2] then
        return {'refused', 'the token is not the one of the approval the run awaits (an approval token works once)'}
      end
      redis.call('HDEL', KEYS[1], 'approval')
      -- The event names the step the answer is about (only this script knows it).
      local answered = cjson.decode(ARGV[6])
      answered.step = approval.step
      local json = cjson.encode(answered)
      if ARGV[3] == '1' then
        local fence = bump()
        redis.call('SET', KEYS[5], fence, 'PX', ARGV[5])
        redis.call('HSET', KEYS[1], 'status', 'RUNNING', 'updated', ARGV[4])
        if approval.kind == 'before' then redis.call('HSET', KEYS[1], 'approved_cursor', approval.cursor) end
        if ARGV[12] ~= '' then redis.call('HSET', KEYS[1], 'budget', ARGV[12]) end
        event(json)
        applied(ARGV[1], {'approved', fence, run[2]})
        return {'approved', fence, run[2], run[3]}
      end
      redis.call('HSET', KEYS[1], 'status', 'FAILED', 'error',
        ARGV[13] .. approval.step .. ARGV[7], 'updated', ARGV[4], 'expires', ARGV[9])
      redis.call('HDEL', KEYS[1], 'held_artifact')
      event(json)
      touch(ARGV[8])
      return applied(ARGV[1], {'rejected'})
      """)
}
