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

  /// The run hash's fields a read decodes, in the order the load script
  /// returns them (`HMGET`): nothing else of the hash (its last operation's
  /// reply, say) is read. `input` comes last, so a read that does not need it
  /// (a `GetState`) leaves it out.
  enum Field: Int, CaseIterable {
    case version, workflow, definition, status, cursor, fence, created, updated, expires, resumes, spent, saved
    case inTokens, outTokens, cachedTokens, cacheWriteTokens, error, approval, heldArtifact, approvedCursor, budget
    case input

    /// Its name in the run hash.
    var name: String {
      switch self {
      case .version: "v"
      case .workflow: "workflow"
      case .definition: "definition"
      case .status: "status"
      case .cursor: "cursor"
      case .fence: "fence"
      case .created: "created"
      case .updated: "updated"
      case .expires: "expires"
      case .resumes: "resumes"
      case .spent: "spent"
      case .saved: "saved"
      case .inTokens: "in_tokens"
      case .outTokens: "out_tokens"
      case .cachedTokens: "cached_tokens"
      case .cacheWriteTokens: "cache_write_tokens"
      case .error: "error"
      case .approval: "approval"
      case .heldArtifact: "held_artifact"
      case .approvedCursor: "approved_cursor"
      case .budget: "budget"
      case .input: "input"
      }
    }

    /// The Lua list of the names, for the scripts' `HMGET`.
    static let luaList = allCases.map { "'\($0.name)'" }.joined(separator: ", ")
  }

  /// Decodes a run from the fields' values (`HMGET` of `Field`, `input`
  /// possibly left out) and the steps and artifacts hashes (flat `HGETALL`s).
  static func decode(workflowID: String, run: RESPValue, steps: RESPValue, artifacts: RESPValue) throws(StoreError) -> RunRecord {
    guard let replies = run.array, replies.count >= Field.allCases.count - 1 else {
      throw StoreError(.corrupt, "the run hash of '\(workflowID)' was read in an unexpected shape")
    }
    var values = replies.map(\.bytes)
    func bytes(_ field: Field) -> [UInt8]? { field.rawValue < values.count ? values[field.rawValue] : nil }
    func field(_ field: Field) throws(StoreError) -> [UInt8] {
      guard let value = bytes(field) else {
        throw StoreError(.corrupt, "run '\(workflowID)' has no '\(field.name)' field")
      }
      return value
    }
    func text(_ name: Field) throws(StoreError) -> String { String(decoding: try field(name), as: UTF8.self) }
    func number<T: FixedWidthInteger>(_ name: Field, _: T.Type = T.self) throws(StoreError) -> T {
      guard let value = try field(name).withUnsafeBufferPointer({ decimal($0, T.self) }) else {
        throw StoreError(.corrupt, "run '\(workflowID)' has a bad '\(name.name)' field")
      }
      return value
    }
    /// A ledger count only a charge writes: 0 when absent (runs created before it existed too).
    func count(_ name: Field) throws(StoreError) -> UInt64 { bytes(name) == nil ? 0 : try number(name) }

    guard bytes(.version) != nil else { throw StoreError(.corrupt, "run '\(workflowID)' has no 'v' field") }
    let storedVersion: UInt32 = try number(.version)
    var stepRecords = try pairs(steps, "steps")
    if storedVersion != RunRecord.currentSchemaVersion {
      // Upgrades (and refusals) work on the stored form, by name.
      let read = Field.allCases.prefix(values.count)
      var stored = StoredRun(
        version: storedVersion,
        fields: Dictionary(read.compactMap { field in values[field.rawValue].map { (field.name, $0) } }) { _, last in last },
        steps: Dictionary(stepRecords.map { (String(decoding: $0.name, as: UTF8.self), $0.value) }) { _, last in last })
      try SchemaUpgrades.upgrade(&stored, workflowID: workflowID)
      values = read.map { stored.fields[$0.name] }
      stepRecords = stored.steps.map { (Array($0.key.utf8), $0.value) }
    }

    let snapshot: DefinitionSnapshot
    do {
      snapshot = try DefinitionSnapshots.shared.snapshot(
        from: try field(.definition), workflow: bytes(.workflow).map { String(decoding: $0, as: UTF8.self) } ?? "")
    } catch let error as StoreError {
      throw error
    } catch {
      throw StoreError(.corrupt, "run '\(workflowID)' has an unreadable definition snapshot: \(error)")
    }
    let definition = snapshot.definition
    guard let status = RunRecord.Status(rawValue: try text(.status)) else {
      throw StoreError(.corrupt, "run '\(workflowID)' has an unknown status")
    }
    var records = [StepProgress](repeating: StepProgress(), count: definition.steps.count)
    // The items of map steps: fields `STEP[INDEX]` beside the steps' own.
    var items: [String: [Int: StepProgress]] = [:]
    var guess = 0
    for (name, bytes) in stepRecords {
      let index = name.withUnsafeBufferPointer { snapshot.index(of: $0, guess: guess) }
      if let index {
        records[index] = try stepRecord(bytes, workflowID: workflowID, "step '\(definition.steps[index].name)'")
        guess = index + 1
        continue
      }
      guard !snapshot.mapSteps.isEmpty, let (step, item) = RunRecord.itemField(String(decoding: name, as: UTF8.self)),
        snapshot.mapSteps.contains(step)
      else { continue }
      items[step, default: [:]][item] = try stepRecord(bytes, workflowID: workflowID, "item '\(step)[\(item)]'")
    }
    let cursor: Int = try number(.cursor)
    guard cursor >= 0, cursor <= definition.steps.count, !definition.steps.isEmpty else {
      throw StoreError(.corrupt, "run '\(workflowID)' has a cursor out of range")
    }
    let error = bytes(.error).map { String(decoding: $0, as: UTF8.self) }
    let approval = try bytes(.approval).map { json throws(StoreError) in
      try StoredApproval.decode(json, heldArtifact: bytes(.heldArtifact))
    }
    let approvedCursor = bytes(.approvedCursor).flatMap { $0.withUnsafeBufferPointer { decimal($0, Int.self) } }
    var record = RunRecord(
      workflowID: workflowID, definition: definition, status: status, cursor: cursor, steps: records,
      ledger: RunLedger(
        spentMicros: try number(.spent), savedByResumeMicros: try number(.saved),
        inputTokens: try number(.inTokens), outputTokens: try number(.outTokens),
        cachedInputTokens: try count(.cachedTokens), cacheWriteTokens: try count(.cacheWriteTokens)),
      input: values.count > Field.input.rawValue ? try field(.input) : [],
      createdAtMs: try number(.created), updatedAtMs: try number(.updated),
      expiresAtMs: try number(.expires), resumes: try number(.resumes), error: error,
      fence: try number(.fence), schemaVersion: storedVersion,
      artifacts: try hash(artifacts, "artifacts"))
    record.approval = approval
    record.approvedCursor = approvedCursor
    record.budgetMicros = bytes(.budget).flatMap { $0.withUnsafeBufferPointer { decimal($0, Int64.self) } }
    record.items = items
    return record
  }

  /// A step's (or an item's) record: the fast reader, else `JSONDecoder`.
  private static func stepRecord(_ bytes: [UInt8], workflowID: String, _ what: @autoclosure () -> String) throws(StoreError)
    -> StepProgress
  {
    if let fast = StepProgressJSON.decode(bytes) { return fast }
    do {
      return try JSONDecoder().decode(StepProgress.self, from: Data(bytes))
    } catch {
      throw StoreError(.corrupt, "run '\(workflowID)' has an unreadable record of \(what()): \(error)")
    }
  }

  /// A decimal integer as Redis stores one (an optional `-`, then digits), without a String.
  static func decimal<T: FixedWidthInteger>(_ bytes: UnsafeBufferPointer<UInt8>, _: T.Type) -> T? {
    var index = 0
    let negative = bytes.first == UInt8(ascii: "-")
    if negative { index = 1 }
    guard index < bytes.count else { return nil }
    var value: T = 0
    while index < bytes.count {
      let byte = bytes[index]
      guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
      let digit = T(byte - UInt8(ascii: "0"))
      let (times, overflowed) = value.multipliedReportingOverflow(by: 10)
      let (next, overflowedAgain) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
      guard !overflowed, !overflowedAgain else { return nil }
      value = next
      index += 1
    }
    return value
  }

  /// A run as the load script returns it (its reply's array, `parts`): the
  /// run's fields, steps and artifacts hashes, history length and history.
  static func loaded(_ parts: [RESPValue], workflowID: String, script: String) throws(StoreError) -> RunRecord {
    guard parts.count == 5, let historyLength = parts[3].int else {
      throw StoreError(.corrupt, "unexpected reply to the \(script) script: \(parts)")
    }
    var record = try decode(workflowID: workflowID, run: parts[0], steps: parts[1], artifacts: parts[2])
    record.historyLength = Int(historyLength)
    record.history = try history(parts[4], workflowID: workflowID)
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

  /// A flat HGETALL reply as (field, value) pairs, in Redis' order.
  static func pairs(_ value: RESPValue, _ what: String) throws(StoreError) -> [(name: [UInt8], value: [UInt8])] {
    guard let items = value.array, items.count % 2 == 0 else {
      throw StoreError(.corrupt, "the \(what) hash has an unexpected shape")
    }
    var result: [(name: [UInt8], value: [UInt8])] = []
    result.reserveCapacity(items.count / 2)
    var index = 0
    while index < items.count {
      guard let key = items[index].bytes, let value = items[index + 1].bytes else {
        throw StoreError(.corrupt, "the \(what) hash has an unexpected entry")
      }
      result.append((key, value))
      index += 2
    }
    return result
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
