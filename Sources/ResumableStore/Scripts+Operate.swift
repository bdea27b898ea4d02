internal import ResumableRedis

extension Scripts {
  /// ARGV: reason, now, event, expires, retention ttl. Cancels a run that has
  /// not ended: CANCELLED with the reason as its error, the fencing token
  /// bumped (a runner still at work can write nothing more, and its lease
  /// renewal fails) and the lease dropped. Returns `{'cancelled', previous
  /// status}`, `{'ended', status}` (COMPLETED or CANCELLED: nothing written)
  /// or `{'gone'}`.
  static let cancel = RedisScript(
    prelude + """
      local status = redis.call('HGET', KEYS[1], 'status')
      if not status then return {'gone'} end
      if status == 'COMPLETED' or status == 'CANCELLED' then return {'ended', status} end
      redis.call('HINCRBY', KEYS[1], 'fence', 1)
      redis.call('HSET', KEYS[1], 'status', 'CANCELLED', 'error', ARGV[1], 'updated', ARGV[2],
        'expires', ARGV[4])
      redis.call('DEL', KEYS[5])
      event(ARGV[3])
      touch(ARGV[5])
      return {'cancelled', status}
      """)

  /// ARGV: fence, from cursor, now, ttl, lease, expires, event, saved micros,
  /// schema version, count of artifacts to discard, their names…, then
  /// (name, record) pairs of the step records to write (the committed steps
  /// before the cursor with what the re-run saved, the step at the cursor
  /// with its attempt begun, the later steps reset). The run must be
  /// COMPLETED or FAILED and leased by the fence.
  static let rerun = RedisScript(
    prelude + """
      local problem, run = fenced(ARGV[1])
      if problem then return redis.error_reply(problem) end
      if run[3] ~= 'COMPLETED' and run[3] ~= 'FAILED' then
        return redis.error_reply('CONFLICT the run is ' .. run[3])
      end
      local discard = tonumber(ARGV[10])
      if discard > 0 then redis.call('HDEL', KEYS[3], unpack(ARGV, 11, 10 + discard)) end
      for i = 11 + discard, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
      redis.call('HINCRBY', KEYS[1], 'resumes', 1)
      redis.call('HINCRBY', KEYS[1], 'saved', ARGV[8])
      -- A re-run asks again for any approval it passes.
      redis.call('HDEL', KEYS[1], 'error', 'approved_cursor')
      redis.call('HSET', KEYS[1], 'status', 'RUNNING', 'cursor', ARGV[2], 'updated', ARGV[3],
        'expires', ARGV[6], 'v', ARGV[9])
      progress(ARGV[1], ARGV[5], ARGV[7], ARGV[4])
      return 1
      """)

  /// ARGV: fence, cursor, step, step record, approval (JSON), held artifact ('' for
  /// none), cost micros, input tokens, output tokens, now, ttl, expires, event. The
  /// run becomes AWAITING_APPROVAL; the held attempt's cost is charged; the lease is
  /// given up (nobody drives a run waiting for a person).
  static let requestApproval = RedisScript(
    prelude + """
      local problem, status = check(ARGV[1], ARGV[2])
      if problem then return redis.error_reply(problem) end
      if status ~= 'RUNNING' then return redis.error_reply('CONFLICT the run is ' .. status) end
      redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
      redis.call('HSET', KEYS[1], 'status', 'AWAITING_APPROVAL', 'approval', ARGV[5], 'updated', ARGV[10],
        'expires', ARGV[12])
      if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'held_artifact', ARGV[6]) end
      charge(ARGV[7], ARGV[8], ARGV[9])
      redis.call('DEL', KEYS[5])
      event(ARGV[13])
      touch(ARGV[11])
      return 1
      """)

  /// ARGV: token, '1' to approve or '0' to reject, now, lease ms, event (its step is
  /// filled in here), the rejection note (': note' or ''), rejection ttl, rejection expires. One answer per token: the first wins.
  /// Returns `{'approved', fence, approval JSON, held artifact or false}`,
  /// `{'rejected'}`, `{'refused', why}` or `{'gone'}`.
  static let answerApproval = RedisScript(
    prelude + """
      local run = redis.call('HMGET', KEYS[1], 'status', 'approval', 'held_artifact')
      if not run[1] then return {'gone'} end
      if run[1] ~= 'AWAITING_APPROVAL' then
        return {'refused', 'the run is ' .. run[1] .. ', not awaiting approval (an approval token works once)'}
      end
      local approval = cjson.decode(run[2])
      if approval.token ~= ARGV[1] then
        return {'refused', 'the token is not the one of the approval the run awaits (an approval token works once)'}
      end
      redis.call('HDEL', KEYS[1], 'approval')
      -- The event names the step the answer is about (only this script knows it).
      local answered = cjson.decode(ARGV[5])
      answered.step = approval.step
      local json = cjson.encode(answered)
      if ARGV[2] == '1' then
        local fence = redis.call('HINCRBY', KEYS[1], 'fence', 1)
        redis.call('SET', KEYS[5], fence, 'PX', ARGV[4])
        redis.call('HSET', KEYS[1], 'status', 'RUNNING', 'updated', ARGV[3])
        if approval.kind == 'before' then redis.call('HSET', KEYS[1], 'approved_cursor', approval.cursor) end
        event(json)
        return {'approved', fence, run[2], run[3]}
      end
      redis.call('HSET', KEYS[1], 'status', 'FAILED', 'error',
        'a person rejected step ' .. approval.step .. ARGV[6], 'updated', ARGV[3], 'expires', ARGV[8])
      redis.call('HDEL', KEYS[1], 'held_artifact')
      event(json)
      touch(ARGV[7])
      return {'rejected'}
      """)
}
