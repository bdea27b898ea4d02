import Foundation
import ResumableCore
import Synchronization

/// Encoded and decoded definition snapshots, kept so that the JSON of a
/// definition is not encoded again for every run created, nor decoded again
/// for every read: every run of a workflow stores the same snapshot, and
/// decoding it with `JSONDecoder` was most of the CPU time of a `GetState`.
///
/// Decoded snapshots are found by workflow name, then by comparing the bytes
/// (a name has one snapshot per version of its definition): a read pays a
/// short string's hash and a `memcmp`, not a hash of the whole JSON.
///
/// Bounded: past `capacity` entries a table is emptied and refills with what
/// is in use. Snapshots are immutable values, so a cached one is always right.
final class DefinitionSnapshots: Sendable {
  private struct Tables {
    var encoded: [String: (definition: WorkflowDefinition, json: [UInt8])] = [:]
    /// By workflow name ("" when the reader does not know it): the snapshots seen.
    var decoded: [String: [DefinitionSnapshot]] = [:]
    var decodedCount = 0
  }

  private let tables = Mutex(Tables())
  private let capacity: Int

  /// The snapshots of one process, shared by every store.
  static let shared = DefinitionSnapshots()

  init(capacity: Int = 256) {
    self.capacity = capacity
  }

  /// The JSON of `definition`, encoded once per definition.
  func json(of definition: WorkflowDefinition, encode: (WorkflowDefinition) throws(StoreError) -> [UInt8]) throws(StoreError) -> [UInt8] {
    if let hit = tables.withLock({ $0.encoded[definition.name] }), hit.definition == definition { return hit.json }
    let json = try encode(definition)
    tables.withLock { tables in
      if tables.encoded.count >= capacity { tables.encoded.removeAll(keepingCapacity: true) }
      tables.encoded[definition.name] = (definition, json)
    }
    return json
  }

  /// The definition stored as `json`, decoded once per distinct snapshot.
  func definition(from json: [UInt8], workflow: String = "") throws -> WorkflowDefinition {
    try snapshot(from: json, workflow: workflow).definition
  }

  /// The snapshot stored as `json` of workflow `workflow` (the run's `workflow`
  /// field), decoded once per distinct snapshot.
  func snapshot(from json: [UInt8], workflow: String) throws -> DefinitionSnapshot {
    let hit = tables.withLock { tables in tables.decoded[workflow]?.first { $0.json == json } }
    if let hit { return hit }
    let snapshot = DefinitionSnapshot(
      definition: try JSONDecoder().decode(WorkflowDefinition.self, from: Data(json)), json: json)
    tables.withLock { tables in
      if tables.decodedCount >= capacity {
        tables.decoded.removeAll(keepingCapacity: true)
        tables.decodedCount = 0
      }
      tables.decoded[workflow, default: []].append(snapshot)
      tables.decodedCount += 1
    }
    return snapshot
  }
}

/// A decoded definition snapshot, with what a read needs to place the step
/// records it finds: each step's name as bytes, and where each name is.
struct DefinitionSnapshot: Sendable {
  let definition: WorkflowDefinition
  /// The JSON it was decoded from.
  let json: [UInt8]
  /// Each step's name as UTF-8, in the definition's order.
  let stepNames: [[UInt8]]
  /// A step's index by its name.
  let stepIndex: [String: Int]
  /// The names of the map steps, whose items are fields `STEP[INDEX]`.
  let mapSteps: Set<String>

  init(definition: WorkflowDefinition, json: [UInt8]) {
    self.definition = definition
    self.json = json
    stepNames = definition.steps.map { Array($0.name.utf8) }
    stepIndex = Dictionary(definition.steps.enumerated().map { ($1.name, $0) }) { first, _ in first }
    mapSteps = Set(definition.steps.filter { $0.map != nil }.map(\.name))
  }

  /// The index of the step named `name` (UTF-8), trying `guess` first: the
  /// steps hash usually lists its records in the definition's order.
  func index(of name: UnsafeBufferPointer<UInt8>, guess: Int) -> Int? {
    if guess < stepNames.count, stepNames[guess].elementsEqual(name) { return guess }
    return stepIndex[String(decoding: name, as: UTF8.self)]
  }
}
