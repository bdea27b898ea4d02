import ResumableCore

/// A run as stored, before it is decoded: the run hash's fields and the step
/// records' JSON, with the schema version they were written with.
struct StoredRun: Sendable {
  var version: UInt32
  /// The `run` hash: field → value.
  var fields: [String: [UInt8]]
  /// The `steps` hash: step name → the step's record (JSON).
  var steps: [String: [UInt8]]
}

/// The registered upgrade functions: each brings a stored run from one
/// schema version to the next, on the stored form, so the decoder only ever
/// reads the current shape. A run is upgraded on read (in memory); a resume
/// rewrites every committed step's record and stores the current version.
///
/// To change the stored shape: raise `RunRecord.currentSchemaVersion` and
/// register the upgrade from the previous version here.
enum SchemaUpgrades {
  typealias Upgrade = @Sendable (inout StoredRun, _ workflowID: String) throws(StoreError) -> Void

  /// Upgrade functions by the version they upgrade from (to that version + 1).
  static let registered: [UInt32: Upgrade] = [
    1: upgradeV1toV2
  ]

  /// Brings `run` to `RunRecord.currentSchemaVersion`. A newer version, or an
  /// older one without a registered path, is refused whole: nothing is half-read.
  static func upgrade(_ run: inout StoredRun, workflowID: String) throws(StoreError) {
    let current = RunRecord.currentSchemaVersion
    guard run.version <= current else {
      throw StoreError(
        .unsupportedSchema,
        "run '\(workflowID)' was stored with schema version \(run.version); this server reads versions up to \(current) — upgrade the server to read it")
    }
    while run.version < current {
      guard let step = registered[run.version] else {
        throw StoreError(
          .unsupportedSchema,
          "run '\(workflowID)' was stored with schema version \(run.version), which this server cannot upgrade (it upgrades versions \(registered.keys.sorted().map(String.init).joined(separator: ", ")) to \(current))")
      }
      try step(&run, workflowID)
      run.version += 1
    }
  }

  /// Version 1 → 2: a step record's `lastErrorRetryable` flag becomes
  /// `lastErrorClass` (`retryable` / `non_retryable`, only when the step has
  /// an error), and it gains `nextAttemptAtMs` (0). Version 1 had no history
  /// list, no wait reason and no record of what a step was given: absent
  /// means none.
  @Sendable static func upgradeV1toV2(_ run: inout StoredRun, workflowID: String) throws(StoreError) {
    for (name, bytes) in run.steps {
      guard case .object(var record)? = try? JSONValue(parsing: bytes) else {
        throw StoreError(.corrupt, "run '\(workflowID)' has an unreadable version-1 record of step '\(name)'")
      }
      let retryable = record.removeValue(forKey: "lastErrorRetryable")?.boolValue ?? false
      if record["lastError"]?.stringValue != nil {
        record["lastErrorClass"] = .string(retryable ? FailureKind.retryable.rawValue : FailureKind.nonRetryable.rawValue)
      }
      if record["nextAttemptAtMs"] == nil { record["nextAttemptAtMs"] = .number(0) }
      run.steps[name] = JSONValue.object(record).serialized()
    }
  }
}
