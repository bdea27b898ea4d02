import Foundation
import ResumableCore
import Synchronization

/// Encoded and decoded definition snapshots, kept so that the JSON of a
/// definition is not encoded again for every run created, nor decoded again
/// for every read: every run of a workflow stores the same snapshot, and
/// decoding it with `JSONDecoder` was most of the CPU time of a `GetState`.
///
/// Bounded: past `capacity` entries a table is emptied and refills with what
/// is in use. Snapshots are immutable values, so a cached one is always right.
final class DefinitionSnapshots: Sendable {
  private struct Tables {
    var encoded: [String: (definition: WorkflowDefinition, json: [UInt8])] = [:]
    var decoded: [[UInt8]: WorkflowDefinition] = [:]
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
  func definition(from json: [UInt8]) throws -> WorkflowDefinition {
    if let hit = tables.withLock({ $0.decoded[json] }) { return hit }
    let definition = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(json))
    tables.withLock { tables in
      if tables.decoded.count >= capacity { tables.decoded.removeAll(keepingCapacity: true) }
      tables.decoded[json] = definition
    }
    return definition
  }
}
