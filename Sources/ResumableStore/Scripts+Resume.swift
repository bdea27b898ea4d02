internal import ResumableRedis
import ResumableCore

extension Scripts {
  /// ARGV: operation, now, ttl, lease, expires, the resuming server's plugins
  /// (`,a,b,`), the record of a step begun from nothing (for a cursor step
  /// with no record yet). A `ResumeWorkflow` in one round trip: checks the run,
  /// takes its lease, credits every committed record with what the resume
  /// saves, begins a new attempt of the step at the cursor, records the
  /// resume; then reads the run as `load` does (with its input: the runner needs it).
  ///
  /// Returns nil when the run does not exist, else `{outcome, run}`, the run as
  /// `load` returns it and the outcome one of `{'resumed', fence, saved micros,
  /// previous status}`, `{'held'}` (a runner holds the lease), `{'ended'}`
  /// (neither FAILED nor RUNNING), `{'missing', plugin}` (a step from the
  /// cursor on needs a plugin the server lacks) or `{'general'}`: the run is
  /// one this script does not rewrite (an older schema version; a record not
  /// in the shape `StepProgressJSON` writes; an amount past 15 digits), and
  /// the server takes the general path (acquire, load, begin). Only
  /// `resumed` writes anything, and it checks everything before its first write.
  ///
  /// Step records are rewritten in place, member by member, as
  /// `StepProgressJSON` writes them (`"key":value`, no spaces; `waitReason`
  /// last): a quote inside a string is always escaped, so `"key":` never
  /// matches inside a value. The tests compare the result with what the
  /// general path writes, byte for byte.
  static let resume = RedisScript(
    prelude + reader + """
      local function unchanged(outcome) return {{outcome}, read(false, false, true)} end
      local again = replayed(ARGV[1])
      if again then return {again, read(false, false, true)} end
      local run = redis.call('HMGET', KEYS[1], 'status', 'v', 'cursor', 'definition')
      local status = run[1]
      if not status then return false end
      local problem = newer(run[2])
      if problem then return redis.error_reply(problem) end
      if status ~= 'FAILED' and status ~= 'RUNNING' then return unchanged('ended') end
      if redis.call('EXISTS', KEYS[5]) == 1 then return unchanged('held') end
      if tonumber(run[2]) ~= SCHEMA then return unchanged('general') end
      local steps = cjson.decode(run[4]).steps
      local cursor = tonumber(run[3]) + 1
      if not steps[cursor] then return unchanged('general') end
      for i = cursor, #steps do
        if not string.find(ARGV[6], ',' .. steps[i].plugin .. ',', 1, true) then
          return {{'missing', steps[i].plugin}, read(false, false, true)}
        end
      end
      -- A top-level integer member of a record (`"key":digits`), as text; nil when absent.
      local function member(record, key)
        return string.match(record, '"' .. key .. '":(%-?%d+)[,}]')
      end
      -- The record with that member set to `value` (text); nil when it has none.
      local function with(record, key, value)
        if not record then return nil end
        local out, n = string.gsub(record, '"' .. key .. '":%-?%d+([,}])', '"' .. key .. '":' .. value .. '%1', 1)
        if n == 1 then return out end
        return nil
      end
      local names, maps = {}, {}
      for _, step in ipairs(steps) do
        names[step.name] = true
        if step.map and step.map ~= cjson.null then maps[step.name] = true end
      end
      local name = steps[cursor].name
      local records = redis.call('HGETALL', KEYS[2])
      local updates, total, current = {}, 0, nil
      for i = 1, #records, 2 do
        local field, record = records[i], records[i + 1]
        local parent = string.match(field, '^(.+)%[%d+%]$')
        if names[field] or (parent and maps[parent]) then
          if not string.find(record, '"status":"', 1, true) then return unchanged('general') end
          if string.find(record, '"status":"COMPLETED"', 1, true) then
            local cost, saved = member(record, 'committedCostMicros'), member(record, 'savedMicros')
            if not (cost and saved and #cost <= 15 and #saved <= 15) then return unchanged('general') end
            total = total + tonumber(cost)
            if math.abs(total) >= 4e15 then return unchanged('general') end
            record = with(record, 'savedMicros', string.format('%.0f', tonumber(saved) + tonumber(cost)))
            if not record then return unchanged('general') end
            updates[#updates + 1] = field
            updates[#updates + 1] = record
          end
          if field == name then current = record end
        end
      end
      -- The step at the cursor, its new attempt begun (`StepProgress.beginningAttempt`).
      local begun = ARGV[7]
      if current then
        local attempts = member(current, 'attempts')
        if not attempts or #attempts > 9 then return unchanged('general') end
        begun = with(current, 'attempts', tostring(tonumber(attempts) + 1))
        begun = with(begun, 'startedAtMs', ARGV[2])
        begun = with(begun, 'finishedAtMs', '0')
        begun = with(begun, 'nextAttemptAtMs', '0')
        if not begun then return unchanged('general') end
        local n
        begun, n = string.gsub(begun, '"status":"[%u_]+"', '"status":"RUNNING"', 1)
        if n ~= 1 then return unchanged('general') end
        -- `waitReason`, the last member: its string ends at the first quote not escaped.
        local at = string.find(begun, ',"waitReason":"', 1, true)
        if at then
          local special = '["%' .. string.char(92) .. ']'
          local i = at + 15
          while true do
            local j = string.find(begun, special, i)
            if not j then return unchanged('general') end
            if string.byte(begun, j) ~= 34 then
              i = j + 2
            else
              if j ~= #begun - 1 or string.sub(begun, -1) ~= '}' then return unchanged('general') end
              begun = string.sub(begun, 1, at - 1) .. '}'
              break
            end
          end
        end
      end
      local fence = bump()
      for i = 1, #updates, 2 do redis.call('HSET', KEYS[2], updates[i], updates[i + 1]) end
      redis.call('HSET', KEYS[2], name, begun)
      redis.call('HINCRBY', KEYS[1], 'resumes', 1)
      redis.call('HINCRBY', KEYS[1], 'saved', string.format('%.0f', total))
      redis.call('HDEL', KEYS[1], 'error')
      redis.call('HSET', KEYS[1], 'v', SCHEMA, 'status', 'RUNNING', 'updated', ARGV[2], 'expires', ARGV[5])
      progress(fence, ARGV[4], cjson.encode({
        type = 'run_resumed', step = name, attempt = tonumber(member(begun, 'attempts')),
        at_ms = tonumber(ARGV[2]), status = 'RUNNING'}), ARGV[3])
      return {applied(ARGV[1], {'resumed', fence, string.format('%.0f', total), status}), read(false, false, true)}
      """)
}
