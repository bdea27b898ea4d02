import Foundation
import ResumableCore
import ResumableRedis

/// Turns the load script's reply into a `RunRecord`, refusing what it cannot
/// read completely: a newer schema version, a missing field, a bad record.
/// An older schema version is first upgraded (`SchemaUpgrades`).
enum RunRecordDecoder {
  static let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return encoder
  }()

  static func decode(workflowID: String, run: RESPValue, steps: RESPValue, artifacts: RESPValue) throws(StoreError) -> RunRecord {
    let rawFields = try hash(run, "run")
    guard let versionText = rawFields["v"].map({ String(decoding: $0, as: UTF8.self) }) else {
      throw StoreError(.corrupt, "run '\(workflowID)' has no 'v' field")
    }
    guard let storedVersion = UInt32(versionText) else {
      throw StoreError(.corrupt, "run '\(workflowID)' has a bad 'v' field")
    }
    var stored = StoredRun(version: storedVersion, fields: rawFields, steps: try hash(steps, "steps"))
    try SchemaUpgrades.upgrade(&stored, workflowID: workflowID)
    let fields = stored.fields
    func field(_ name: String) throws(StoreError) -> [UInt8] {
      guard let value = fields[name] else {
        throw StoreError(.corrupt, "run '\(workflowID)' has no '\(name)' field")
      }
      return value
    }
    func text(_ name: String) throws(StoreError) -> String { String(decoding: try field(name), as: UTF8.self) }
    func number<T: FixedWidthInteger>(_ name: String, _: T.Type = T.self) throws(StoreError) -> T {
      guard let value = T(try text(name)) else {
        throw StoreError(.corrupt, "run '\(workflowID)' has a bad '\(name)' field")
      }
      return value
    }
    /// A ledger count only a charge writes: 0 when absent (runs created before it existed too).
    func count(_ name: String) throws(StoreError) -> UInt64 { fields[name] == nil ? 0 : try number(name) }

    let decoder = JSONDecoder()
    let definition: WorkflowDefinition
    do {
      definition = try DefinitionSnapshots.shared.definition(from: try field("definition"))
    } catch let error as StoreError {
      throw error
    } catch {
      throw StoreError(.corrupt, "run '\(workflowID)' has an unreadable definition snapshot: \(error)")
    }
    guard let status = RunRecord.Status(rawValue: try text("status")) else {
      throw StoreError(.corrupt, "run '\(workflowID)' has an unknown status")
    }
    let stepFields = stored.steps
    var records: [StepProgress] = []
    records.reserveCapacity(definition.steps.count)
    for step in definition.steps {
      guard let bytes = stepFields[step.name] else {
        records.append(StepProgress())
        continue
      }
      if let fast = StepProgressJSON.decode(bytes) {
        records.append(fast)
        continue
      }
      do {
        records.append(try decoder.decode(StepProgress.self, from: Data(bytes)))
      } catch {
        throw StoreError(.corrupt, "run '\(workflowID)' has an unreadable record of step '\(step.name)': \(error)")
      }
    }
    // The items of map steps: fields `STEP[INDEX]` beside the steps' own.
    var items: [String: [Int: StepProgress]] = [:]
    if definition.steps.contains(where: { $0.map != nil }) {
      let mapSteps = Set(definition.steps.filter { $0.map != nil }.map(\.name))
      for (field, bytes) in stepFields {
        guard let (step, index) = RunRecord.itemField(field), mapSteps.contains(step) else { continue }
        guard let item = StepProgressJSON.decode(bytes) ?? (try? decoder.decode(StepProgress.self, from: Data(bytes))) else {
          throw StoreError(.corrupt, "run '\(workflowID)' has an unreadable record of item '\(field)'")
        }
        items[step, default: [:]][index] = item
      }
    }
    let cursor: Int = try number("cursor")
    guard cursor >= 0, cursor <= definition.steps.count, !definition.steps.isEmpty else {
      throw StoreError(.corrupt, "run '\(workflowID)' has a cursor out of range")
    }
    let error = fields["error"].map { String(decoding: $0, as: UTF8.self) }
    let approval = try fields["approval"].map { json throws(StoreError) in
      try StoredApproval.decode(json, heldArtifact: fields["held_artifact"])
    }
    let approvedCursor = fields["approved_cursor"].flatMap { Int(String(decoding: $0, as: UTF8.self)) }
    var record = RunRecord(
      workflowID: workflowID, definition: definition, status: status, cursor: cursor, steps: records,
      ledger: RunLedger(
        spentMicros: try number("spent"), savedByResumeMicros: try number("saved"),
        inputTokens: try number("in_tokens"), outputTokens: try number("out_tokens"),
        cachedInputTokens: try count("cached_tokens"), cacheWriteTokens: try count("cache_write_tokens")),
      input: try field("input"), createdAtMs: try number("created"), updatedAtMs: try number("updated"),
      expiresAtMs: try number("expires"), resumes: try number("resumes"), error: error,
      fence: try number("fence"), schemaVersion: storedVersion, artifacts: try hash(artifacts, "artifacts"))
    record.approval = approval
    record.approvedCursor = approvedCursor
    record.budgetMicros = fields["budget"].flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
    record.items = items
    return record
  }

  /// An LRANGE reply of history messages (JSON each), oldest first.
  static func history(_ value: RESPValue, workflowID: String) throws(StoreError) -> [HistoryEntry] {
    guard let items = value.array else {
      throw StoreError(.corrupt, "the history of run '\(workflowID)' has an unexpected shape")
    }
    let decoder = JSONDecoder()
    var messages: [HistoryEntry] = []
    messages.reserveCapacity(items.count)
    for item in items {
      guard let bytes = item.bytes, let message = try? decoder.decode(HistoryEntry.self, from: Data(bytes)) else {
        throw StoreError(.corrupt, "the history of run '\(workflowID)' has an unreadable message")
      }
      messages.append(message)
    }
    return messages
  }

  /// A flat HGETALL reply as a dictionary.
  static func hash(_ value: RESPValue, _ what: String) throws(StoreError) -> [String: [UInt8]] {
    guard let items = value.array, items.count % 2 == 0 else {
      throw StoreError(.corrupt, "the \(what) hash has an unexpected shape")
    }
    var result: [String: [UInt8]] = [:]
    result.reserveCapacity(items.count / 2)
    var index = 0
    while index < items.count {
      guard let key = items[index].bytes, let value = items[index + 1].bytes else {
        throw StoreError(.corrupt, "the \(what) hash has an unexpected entry")
      }
      result[String(decoding: key, as: UTF8.self)] = value
      index += 2
    }
    return result
  }
}
