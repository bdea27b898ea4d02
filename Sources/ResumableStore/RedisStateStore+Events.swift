public import ResumableCore
internal import ResumableRedis

/// The run's event log (`P:{id}:events`, a stream) for watchers. Watchers
/// poll it with `XRANGE` on the shared, pipelined connection rather than block
/// on `XREAD BLOCK` (see docs/Design.md, "Watching a run").
extension RedisStateStore {
  /// ARGV: the position after which to read (a stream id), how many events
  /// at most. Returns nil when the run does not exist, else {status,
  /// entries}: the run's status and the events after the position, read in
  /// one snapshot.
  static let readEvents = RedisScript(
    """
    local status = redis.call('HGET', KEYS[1], 'status')
    if not status then return false end
    return {status, redis.call('XRANGE', KEYS[2], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])}
    """)

  public func lastEventPosition(workflowID: String) async throws(StoreError) -> String {
    let key = RunKeys(prefix: prefix, workflowID: workflowID).events
    let reply = try await send(["XREVRANGE", RedisArgument(key), "+", "-", "COUNT", "1"], about: "XREVRANGE \(key)")
    guard let entries = reply.array else {
      throw StoreError(.corrupt, "unexpected reply to XREVRANGE \(key): \(reply)")
    }
    return entries.first?.array?.first?.string ?? "0-0"
  }

  public func events(workflowID: String, after position: String, limit: Int) async throws(StoreError) -> RunEventBatch? {
    let keys = RunKeys(prefix: prefix, workflowID: workflowID)
    let reply: RESPValue
    do {
      reply = try await client.evalScript(
        Self.readEvents, keys: [RedisArgument(keys.run), RedisArgument(keys.events)],
        arguments: [RedisArgument(position), RedisArgument(max(1, limit))])
    } catch {
      throw StoreError(redis: error)
    }
    if reply.isNull { return nil }
    guard let parts = reply.array, parts.count == 2, let statusText = parts[0].string,
      let status = RunRecord.Status(rawValue: statusText), let entries = parts[1].array
    else {
      throw StoreError(.corrupt, "unexpected reply to the event script of run '\(workflowID)': \(reply)")
    }
    var events: [(position: String, event: RunEventRecord)] = []
    for entry in entries {
      guard let pair = entry.array, pair.count == 2, let id = pair[0].string, let fields = pair[1].array else {
        throw StoreError(.corrupt, "unexpected entry in the events of run '\(workflowID)': \(entry)")
      }
      // Fields come as a flat list: name, value, …; the event is in `event`.
      var json: [UInt8]?
      for index in stride(from: 0, to: fields.count - 1, by: 2) where fields[index].string == "event" {
        json = fields[index + 1].bytes
      }
      events.append((id, Self.decodeEvent(json ?? [])))
    }
    return RunEventBatch(events: events, status: status)
  }

  /// An event as the scripts store it: `{"type", "step", "attempt", "at_ms"}`
  /// and optionally `"message"`, `"next_attempt_at_ms"`, `"status"`. Missing
  /// or mistyped members get their defaults; bytes that are not a JSON object
  /// become an event of type `unreadable`, so a watcher never stops on one.
  static func decodeEvent(_ json: [UInt8]) -> RunEventRecord {
    guard let value = try? JSONValue(parsing: json), value.objectValue != nil else {
      return RunEventRecord(type: "unreadable", message: String(decoding: json.prefix(200), as: UTF8.self))
    }
    func integer(_ key: String) -> Int64 {
      guard let number = value[key]?.numberValue, number.isFinite, abs(number) < 9e15 else { return 0 }
      return Int64(number)
    }
    return RunEventRecord(
      type: value["type"]?.stringValue ?? "unknown", step: value["step"]?.stringValue ?? "",
      attempt: UInt32(clamping: max(0, integer("attempt"))), atMs: integer("at_ms"),
      message: value["message"]?.stringValue ?? "", nextAttemptAtMs: integer("next_attempt_at_ms"),
      status: value["status"]?.stringValue.flatMap(RunRecord.Status.init(rawValue:)))
  }
}
