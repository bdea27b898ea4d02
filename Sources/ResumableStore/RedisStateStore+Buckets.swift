public import ResumableCore
import ResumableRedis

/// Stores written before the indexes had buckets kept each in one key
/// (`PREFIX:recovery`, `PREFIX:runs`, `PREFIX:workflows`). A server moves what
/// it finds there into the buckets when it opens the store; runs themselves
/// keep their keys and schema (no `SchemaUpgrades` step: the run keys did not change).
extension RedisStateStore {
  /// Moves the entries of the unbucketed indexes into their buckets and deletes the old
  /// keys; on a store that has none it costs three reads. Idempotent, so servers
  /// starting together may all run it.
  ///
  /// The server calls it when it opens the store and, until it has succeeded once, at
  /// the start of each recovery pass (``recoveryCandidates(limit:)``).
  ///
  /// - Important: Servers of an older build still running against the store keep writing
  ///   the old keys: upgrade every server of a deployment together (stop the old ones first).
  /// - Returns: How many entries were moved.
  public func moveUnbucketedIndexes() async throws(StoreError) -> Int {
    let old = RunKeys.unbucketed(prefix: prefix)
    var moved = 0
    // The earliest due time wins in the recovery index (LT), the first creation time in the list (NX).
    for (key, mode, bucketKey) in [
      (old.recovery, "LT", recoveryIndex(_:)), (old.runs, "NX", runsIndex(_:)),
    ] as [(String, String, (String) -> String)] {
      while true {
        let reply = try await send(["ZRANGE", RedisArgument(key), "0", "499", "WITHSCORES"], about: "ZRANGE \(key)")
        let flat = reply.array ?? []
        guard !flat.isEmpty else { break }
        var commands: [[RedisArgument]] = []
        var members: [RedisArgument] = []
        for pair in stride(from: 0, to: flat.count - 1, by: 2) {
          members.append(RedisArgument(flat[pair].bytes ?? []))
          // An entry that is not a text id cannot be a run's: it only leaves the old key.
          guard let id = flat[pair].string, let score = flat[pair + 1].string else { continue }
          commands.append(["ZADD", RedisArgument(bucketKey(id)), RedisArgument(mode), RedisArgument(score), RedisArgument(id)])
          moved += 1
        }
        commands.append(["ZREM", RedisArgument(key)] + members)
        try await sendAll(commands)
      }
    }
    let workflows = try await send(["HGETALL", RedisArgument(old.workflows)], about: "HGETALL \(old.workflows)")
    let fields = workflows.array ?? []
    if !fields.isEmpty {
      var commands: [[RedisArgument]] = []
      for pair in stride(from: 0, to: fields.count - 1, by: 2) {
        guard let field = fields[pair].string, field.count > 2, let value = fields[pair + 1].bytes else { continue }
        // `d:NAME` and `v:NAME`; a bucket that has the name already (a newer registration) keeps it.
        let name = String(field.dropFirst(2))
        commands.append(["HSETNX", RedisArgument(registeredWorkflowsKey(name)), RedisArgument(field), RedisArgument(value)])
        if field.hasPrefix("d:") { moved += 1 }
      }
      commands.append(["DEL", RedisArgument(old.workflows)])
      try await sendAll(commands)
    }
    unbucketedMoved.store(true, ordering: .relaxed)
    return moved
  }

  private func sendAll(_ commands: [[RedisArgument]]) async throws(StoreError) {
    let replies: [RESPValue]
    do {
      replies = try await client.pipeline(commands)
    } catch {
      throw StoreError(redis: error)
    }
    if let message = replies.lazy.compactMap(\.errorMessage).first {
      throw StoreError(redisReply: message, about: "moving the unbucketed indexes")
    }
  }
}
