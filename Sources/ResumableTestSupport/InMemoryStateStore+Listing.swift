public import ResumableCore

/// The list of runs and the event logs, as `RedisStateStore` reads them.
extension InMemoryStateStore {
  public func listRuns(_ query: RunQuery) async throws(StoreError) -> RunPage {
    let limit = max(1, min(query.limit, 1000))
    // The cursor is "<created ms>:<id>" of the last run returned.
    let after = try Self.position(of: query.cursor)
    let now = nowMs
    return state.withLock { state in
      // Newest first; runs of one millisecond in descending id order.
      let entries = state.runList.map { (score: $0.value, id: $0.key) }
        .filter { entry in after.map { (entry.score, entry.id) < ($0.score, $0.id) } ?? true }
        .sorted { ($0.score, $0.id) > ($1.score, $1.id) }
      var runs: [RunListEntry] = []
      var scanned = 0
      var lastSeen: (score: Int64, id: String)?
      // A bounded scan per page, as the Redis store's.
      let budget = max(limit * 20, 1000)
      for entry in entries {
        guard runs.count < limit, scanned < budget else { break }
        scanned += 1
        lastSeen = entry
        guard let run = state.live(entry.id, now: now) else {
          // The run expired with its keys: its list entry goes too.
          state.runList[entry.id] = nil
          continue
        }
        let record = run.record
        if let status = query.status, record.status != status { continue }
        if let workflow = query.workflow, record.workflowName != workflow { continue }
        runs.append(
          RunListEntry(
            workflowID: entry.id, workflowName: record.workflowName, status: record.status, cursor: record.cursor,
            stepCount: record.definition.steps.count, currentStepName: record.currentStepName,
            createdAtMs: record.createdAtMs, updatedAtMs: record.updatedAtMs, ledger: record.ledger, error: record.error))
      }
      let more = runs.count == limit || scanned >= budget
      return RunPage(runs: runs, nextCursor: more ? lastSeen.map { "\($0.score):\($0.id)" } : nil)
    }
  }

  /// Where a list's cursor says the previous page ended; nil for the first page.
  private static func position(of cursor: String?) throws(StoreError) -> (score: Int64, id: String)? {
    guard let cursor, !cursor.isEmpty else { return nil }
    guard let colon = cursor.firstIndex(of: ":"), let score = Int64(cursor[..<colon]) else {
      throw StoreError(.corrupt, "CURSOR the cursor '\(cursor.prefix(80))' is not one a list returned")
    }
    return (score, String(cursor[cursor.index(after: colon)...]))
  }

  public func trimRunList(from position: Int, limit: Int) async throws(StoreError) -> (next: Int, removed: Int) {
    let start = max(0, position)
    let now = nowMs
    return state.withLock { state in
      let ids = state.runList.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
        .dropFirst(start).prefix(max(1, limit))
      guard !ids.isEmpty else { return (0, 0) }
      let expired = ids.filter { state.live($0, now: now) == nil }
      for id in expired { state.runList[id] = nil }
      // Removing entries moves the later ones down by as many places.
      let next = ids.count < limit ? 0 : start + ids.count - expired.count
      return (next, expired.count)
    }
  }

  // MARK: - Events

  /// Positions are "<n>-0", n counting every event of the store (Redis: stream ids).
  static let origin = "0-0"

  public func lastEventPosition(workflowID: String) async throws(StoreError) -> String {
    let now = nowMs
    return state.withLock { state in
      state.live(workflowID, now: now)?.events.last.map { "\($0.position)-0" } ?? Self.origin
    }
  }

  public func events(workflowID: String, after position: String, limit: Int) async throws(StoreError) -> RunEventBatch? {
    guard let after = position.split(separator: "-", maxSplits: 1).first.flatMap({ UInt64($0) }) else {
      throw StoreError(.corrupt, "'\(position.prefix(80))' is not an event position")
    }
    let now = nowMs
    return state.withLock { state in
      guard let run = state.live(workflowID, now: now) else { return nil }
      let events = run.events.filter { $0.position > after }.prefix(max(1, limit))
        .map { (position: "\($0.position)-0", event: $0.event) }
      return RunEventBatch(events: Array(events), status: run.record.status)
    }
  }
}
