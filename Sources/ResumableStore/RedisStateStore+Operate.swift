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
      after: [["ZREM", RedisArgument(recoveryIndex), RedisArgument(cancel.workflowID)]])
    let parts = reply.array ?? []
    switch (parts.first?.string, parts.count > 1 ? parts[1].string.flatMap(RunStatus.init(rawValue:)) : nil) {
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
    "status", "workflow", "cursor", "created", "updated", "spent", "saved", "in_tokens", "out_tokens", "error",
    "definition", "v",
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
    var runs: [RunSummary] = []
    var scanned = 0
    // A bounded scan per page: a filter that matches few runs returns a short
    // page and a cursor to go on from, rather than reading every run at once.
    let budget = max(limit * 20, 1000)
    var lastSeen: (score: Int64, id: String)?
    while runs.count < limit, scanned < budget {
      let batch = min(max(limit * 2, 50), 500)
      let reply = try await send(
        [
          "ZREVRANGEBYSCORE", RedisArgument(runsIndex), RedisArgument(bound), "-inf", "WITHSCORES", "LIMIT", "0",
          RedisArgument(batch + 1 + (after == nil ? 0 : 64)),
        ], about: "ZREVRANGEBYSCORE \(runsIndex)")
      var entries: [(id: String, score: Int64)] = []
      let flat = reply.array ?? []
      for pair in stride(from: 0, to: flat.count - 1, by: 2) {
        guard let id = flat[pair].string, let score = flat[pair + 1].string.flatMap(Double.init) else { continue }
        let entry = (id: id, score: Int64(score))
        if let after, entry.score == after.score, entry.id >= after.id { continue }
        entries.append(entry)
      }
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
      var expired: [RedisArgument] = []
      for (entry, fields) in zip(entries, replies) {
        scanned += 1
        lastSeen = (entry.score, entry.id)
        if Self.isNewerSchema(fields) {
          // Written by a newer server: its fields may not mean what this
          // server's do, so it is not shown as if it were current.
          continue
        }
        guard let summary = Self.summary(entry.id, fields) else {
          if fields.array?.first?.isNull == true { expired.append(RedisArgument(entry.id)) }
          continue
        }
        if let status = query.status, summary.status != status { continue }
        if let workflow = query.workflow, summary.workflowName != workflow { continue }
        runs.append(summary)
        if runs.count == limit { break }
      }
      if !expired.isEmpty {
        // The runs expired with their keys: their index entries go too.
        _ = try? await client.send(["ZREM", RedisArgument(runsIndex)] + expired)
      }
      guard let last = lastSeen else { break }
      after = last
      bound = String(last.score)
      if entries.count < batch { break }
    }
    let more = runs.count == limit || scanned >= budget
    return RunPage(runs: runs, nextCursor: more ? lastSeen.map { "\($0.score):\($0.id)" } : nil)
  }

  /// Whether the run's `v` (the last summary field) is above this server's schema version.
  private static func isNewerSchema(_ reply: RESPValue) -> Bool {
    guard let version = reply.array?.last?.string.flatMap({ UInt32($0) }) else { return false }
    return version > RunRecord.currentSchemaVersion
  }

  public func trimRunList(from position: Int, limit: Int) async throws(StoreError) -> (next: Int, removed: Int) {
    let start = max(0, position)
    let reply = try await send(
      ["ZRANGE", RedisArgument(runsIndex), RedisArgument(start), RedisArgument(start + max(1, limit) - 1)],
      about: "ZRANGE \(runsIndex)")
    let ids = (reply.array ?? []).compactMap(\.string)
    guard !ids.isEmpty else { return (0, 0) }
    let replies: [RESPValue]
    do {
      replies = try await client.pipeline(ids.map { ["EXISTS", RedisArgument(RunKeys(prefix: prefix, workflowID: $0).run)] })
    } catch {
      throw StoreError(redis: error)
    }
    let expired = zip(ids, replies).filter { $0.1.int == 0 }.map { RedisArgument($0.0) }
    if !expired.isEmpty {
      _ = try await send(["ZREM", RedisArgument(runsIndex)] + expired, about: "ZREM \(runsIndex)")
    }
    // Removing entries moves the later ones down by as many places.
    let next = ids.count < limit ? 0 : start + ids.count - expired.count
    return (next, expired.count)
  }

  private static func summary(_ id: String, _ reply: RESPValue) -> RunSummary? {
    guard let values = reply.array, values.count == summaryFields.count,
      let status = values[0].string.flatMap(RunStatus.init(rawValue:)), let workflow = values[1].string
    else { return nil }
    func number(_ index: Int) -> Int64 { values[index].string.flatMap { Int64($0) } ?? 0 }
    // Snapshots are shared by every run of a definition: decoded once, not once per run listed.
    let definition = values[10].bytes.flatMap { try? DefinitionSnapshots.shared.definition(from: $0) }
    let steps = definition?.steps ?? []
    let cursor = Int(number(2))
    return RunSummary(
      workflowID: id, workflowName: workflow, status: status, cursor: cursor, stepCount: steps.count,
      currentStepName: steps.isEmpty ? "" : steps[min(max(cursor, 0), steps.count - 1)].name,
      createdAtMs: number(3), updatedAtMs: number(4),
      ledger: CostLedger(
        spentMicros: number(5), savedByResumeMicros: number(6), inputTokens: UInt64(max(0, number(7))),
        outputTokens: UInt64(max(0, number(8)))),
      error: values[9].string)
  }
}
