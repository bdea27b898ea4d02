import Foundation
public import ResumableCore
import ResumableRedis

extension RedisStateStore {
  public func cancel(_ cancel: RunCancel) async throws(StoreError) -> CancelOutcome {
    let timing = cancel.timing
    let reply = try await write(
      Scripts.cancel, cancel.workflowID, timing,
      [
        RedisArgument(cancel.reason), RedisArgument(timing.nowMs),
        RedisArgument(Self.event("run_cancelled", step: "", attempt: 0, at: timing.nowMs, status: .cancelled, message: cancel.reason)),
        RedisArgument(timing.nowMs + timing.ttlMs), RedisArgument(timing.ttlMs),
      ],
      // Ahead of the write: a cancelled run is never recovered (nor resumed, which
      // could re-add it), so its entry may go whatever the script finds.
      after: [["ZREM", RedisArgument(recoveryIndex(cancel.workflowID)), RedisArgument(cancel.workflowID)]])
    let parts = reply.array ?? []
    switch (parts.first?.string, parts.count > 1 ? parts[1].string.flatMap(RunRecord.Status.init(rawValue:)) : nil) {
    case ("cancelled", let previous?): return .cancelled(previous: previous)
    case ("ended", let status?): return .ended(status)
    case ("gone", _): return .notFound
    default: throw StoreError(.corrupt, "unexpected reply to the cancel script: \(reply)")
    }
  }

  public func rerun(_ rerun: RerunBegin) async throws(StoreError) {
    let timing = rerun.timing
    let step = rerun.discarded.first ?? ""  // The step the re-run starts from.
    var arguments: [RedisArgument] = [
      RedisArgument(rerun.fence), RedisArgument(rerun.cursor), RedisArgument(timing.nowMs),
      RedisArgument(timing.ttlMs), RedisArgument(timing.leaseMs), RedisArgument(timing.nowMs + timing.ttlMs),
      RedisArgument(
        Self.event(
          "run_rerun", step: step, attempt: Int(rerun.steps[step]?.attempts ?? 0), at: timing.nowMs,
          status: .running, message: "re-run from step '\(step)'; its artifact and those after it were discarded")),
      RedisArgument(rerun.savedMicros), RedisArgument(Int(RunRecord.currentSchemaVersion)),
      RedisArgument(rerun.discarded.count),
    ]
    arguments += rerun.discarded.map { RedisArgument($0) }
    for (name, record) in rerun.steps.sorted(by: { $0.key < $1.key }) {
      arguments.append(RedisArgument(name))
      arguments.append(RedisArgument(encode(record)))
    }
    _ = try await write(
      Scripts.rerun, rerun.workflowID, timing, arguments,
      after: [index(rerun.workflowID, dueAtMs: timing.nowMs + timing.leaseMs)])
  }

  public func ping() async throws(StoreError) -> Duration {
    let clock = ContinuousClock()
    let started = clock.now
    let reply: RESPValue
    do {
      reply = try await client.send(["PING"])
    } catch {
      throw StoreError(redis: error)
    }
    if let message = reply.errorMessage { throw StoreError(.unavailable, "Redis answered PING with \(message)") }
    return clock.now - started
  }

  // MARK: - Listing

  /// The fields of a run a list shows, in `HMGET` order.
  private static let summaryFields = [
    "status", "workflow", "cursor", "created", "updated", "spent", "saved", "in_tokens", "out_tokens", "cached_tokens",
    "cache_write_tokens", "error", "definition", "v",  // `v` last: `isNewerSchema` reads it there
  ]

  public func listRuns(_ query: RunQuery) async throws(StoreError) -> RunPage {
    let limit = max(1, min(query.limit, 1000))
    // The cursor is "<created ms>:<id>" of the last run returned; runs of one
    // millisecond come in descending id order, as the sorted set gives them.
    var bound = "+inf"
    var after: (score: Int64, id: String)?
    if let cursor = query.cursor, !cursor.isEmpty {
      guard let colon = cursor.firstIndex(of: ":"), let score = Int64(cursor[..<colon]) else {
        throw StoreError(.corrupt, "CURSOR the cursor '\(cursor.prefix(80))' is not one a list returned")
      }
      after = (score, String(cursor[cursor.index(after: colon)...]))
      bound = String(score)
    }
    let expiredBefore = judgedBeforeMs
    var runs: [RunListEntry] = []
    var scanned = 0
    // A bounded scan per page: a filter that matches few runs returns a short
    // page and a cursor to go on from, rather than reading every run at once.
    let budget = max(limit * 20, 1000)
    var lastSeen: (score: Int64, id: String)?
    while runs.count < limit, scanned < budget {
      let batch = min(max(limit * 2, 50), 500)
      // Each bucket's newest up to the bound, merged: the `batch` newest of all.
      let fetch = RedisArgument(batch + 1 + (after == nil ? 0 : 64))
      let bucketReplies: [RESPValue]
      do {
        bucketReplies = try await client.pipeline(
          runsIndexes.map { ["ZREVRANGEBYSCORE", RedisArgument($0), RedisArgument(bound), "-inf", "WITHSCORES", "LIMIT", "0", fetch] })
      } catch {
        throw StoreError(redis: error)
      }
      var merged: [(id: String, score: Int64)] = []
      for (key, reply) in zip(runsIndexes, bucketReplies) {
        if let message = reply.errorMessage { throw StoreError(redisReply: message, about: "ZREVRANGEBYSCORE \(key)") }
        let flat = reply.array ?? []
        for pair in stride(from: 0, to: flat.count - 1, by: 2) {
          guard let id = flat[pair].string, let score = flat[pair + 1].string.flatMap(Double.init) else { continue }
          let entry = (id: id, score: Int64(score))
          if let after, entry.score == after.score, Array(entry.id.utf8).lexicographicallyPrecedes(Array(after.id.utf8)) == false { continue }
          merged.append(entry)
        }
      }
      // Newest first; one millisecond's runs in descending id order (bytes, as Redis orders them).
      merged.sort { $0.score != $1.score ? $0.score > $1.score : Array($1.id.utf8).lexicographicallyPrecedes(Array($0.id.utf8)) }
      let entries = Array(merged.prefix(batch))
      if entries.isEmpty { break }
      let commands = entries.map { entry -> [RedisArgument] in
        ["HMGET", RedisArgument(RunKeys(prefix: prefix, workflowID: entry.id).run)] + Self.summaryFields.map { RedisArgument($0) }
      }
      let replies: [RESPValue]
      do {
        replies = try await client.pipeline(commands)
      } catch {
        throw StoreError(redis: error)
      }
      var expired: [String] = []
      for (entry, fields) in zip(entries, replies) {
        // An error reply is no answer about the run: the page fails rather than leave it out.
        if let message = fields.errorMessage { throw StoreError(redisReply: message, about: "HMGET of run '\(entry.id)'") }
        scanned += 1
        lastSeen = (entry.score, entry.id)
        if Self.isNewerSchema(fields) {
          // Written by a newer server: its fields may not mean what this
          // server's do, so it is not shown as if it were current.
          continue
        }
        guard let summary = Self.summary(entry.id, fields) else {
          if fields.array?.first?.isNull == true, entry.score < expiredBefore { expired.append(entry.id) }
          continue
        }
        if let status = query.status, summary.status != status { continue }
        if let workflow = query.workflow, summary.workflowName != workflow { continue }
        runs.append(summary)
        if runs.count == limit { break }
      }
      if !expired.isEmpty {
        // The runs expired with their keys: their index entries go too.
        let byBucket = Dictionary(grouping: expired) { runsIndex($0) }
        _ = try? await client.pipeline(byBucket.map { key, ids in ["ZREM", RedisArgument(key)] + ids.map { RedisArgument($0) } })
      }
      guard let last = lastSeen else { break }
      after = last
      bound = String(last.score)
      if merged.count < batch { break }
    }
    let more = runs.count == limit || scanned >= budget
    return RunPage(runs: runs, nextCursor: more ? lastSeen.map { "\($0.score):\($0.id)" } : nil)
  }

  /// Whether the run's `v` (the last summary field) is above this server's schema version.
  private static func isNewerSchema(_ reply: RESPValue) -> Bool {
    guard let version = reply.array?.last?.string.flatMap({ UInt32($0) }) else { return false }
    return version > RunRecord.currentSchemaVersion
  }

  /// A position is a bucket of the list and an offset in it (`bucket << 32 | offset`);
  /// a pass reads the buckets in order from there until it has seen `limit` entries.
  public func trimRunList(from position: Int, limit: Int) async throws(StoreError) -> (next: Int, removed: Int) {
    let limit = max(1, limit)
    var bucket = min(max(0, position >> 32), runsIndexes.count - 1)
    var offset = max(0, position) & 0xFFFF_FFFF
    var seen = 0
    var removed = 0
    while bucket < runsIndexes.count {
      let key = runsIndexes[bucket]
      let want = limit - seen
      let reply = try await send(
        ["ZRANGE", RedisArgument(key), RedisArgument(offset), RedisArgument(offset + want - 1), "WITHSCORES"],
        about: "ZRANGE \(key)")
      let flat = reply.array ?? []
      let expiredBefore = judgedBeforeMs
      let entries = stride(from: 0, to: flat.count - 1, by: 2).compactMap { pair -> (id: String, old: Bool)? in
        guard let id = flat[pair].string else { return nil }
        let score = flat[pair + 1].string.flatMap(Double.init).map { Int64($0) } ?? .max
        return (id, score < expiredBefore)
      }
      let ids = entries.map(\.id)
      let candidates = entries.filter(\.old).map(\.id)
      var expired: [RedisArgument] = []
      if !candidates.isEmpty {
        let replies: [RESPValue]
        do {
          replies = try await client.pipeline(
            candidates.map { ["EXISTS", RedisArgument(RunKeys(prefix: prefix, workflowID: $0).run)] })
        } catch {
          throw StoreError(redis: error)
        }
        expired = zip(candidates, replies).filter { $0.1.int == 0 }.map { RedisArgument($0.0) }
        if !expired.isEmpty {
          _ = try await send(["ZREM", RedisArgument(key)] + expired, about: "ZREM \(key)")
        }
      }
      seen += ids.count
      removed += expired.count
      if ids.count == want {
        // Removing entries moves the later ones down by as many places.
        return ((bucket << 32) | (offset + ids.count - expired.count), removed)
      }
      bucket += 1
      offset = 0
    }
    return (0, removed)
  }

  private static func summary(_ id: String, _ reply: RESPValue) -> RunListEntry? {
    guard let values = reply.array, values.count == summaryFields.count,
      let status = values[0].string.flatMap(RunRecord.Status.init(rawValue:)), let workflow = values[1].string
    else { return nil }
    func number(_ index: Int) -> Int64 { values[index].string.flatMap { Int64($0) } ?? 0 }
    // Snapshots are shared by every run of a definition: decoded once, not once per run listed.
    let definition = values[12].bytes.flatMap { try? DefinitionSnapshots.shared.definition(from: $0) }
    let steps = definition?.steps ?? []
    let cursor = Int(number(2))
    return RunListEntry(
      workflowID: id, workflowName: workflow, status: status, cursor: cursor, stepCount: steps.count,
      currentStepName: steps.isEmpty ? "" : steps[min(max(cursor, 0), steps.count - 1)].name,
      createdAtMs: number(3), updatedAtMs: number(4),
      ledger: RunLedger(
        spentMicros: number(5), savedByResumeMicros: number(6), inputTokens: UInt64(max(0, number(7))),
        outputTokens: UInt64(max(0, number(8))), cachedInputTokens: UInt64(max(0, number(9))),
        cacheWriteTokens: UInt64(max(0, number(10)))),
      error: values[11].string)
  }
}
