public import ResumableCore
import ResumableRedis

/// Workflows defined in code (`RegisterWorkflows`): a hash per bucket of
/// names, `PREFIX:workflows:{bNN}`, with a field `d:NAME` holding the latest definition's
/// JSON (the snapshot encoding runs store) and `v:NAME` its version. A run
/// keeps the snapshot it started with, so a new version never changes a run
/// in flight.
extension RedisStateStore {
  /// The hash holding the registered workflow `name`.
  func registeredWorkflowsKey(_ name: String) -> String {
    Self.registeredWorkflowsKey(keyPrefix: prefix, name: name)
  }

  public func registerWorkflow(_ definition: WorkflowDefinition) async throws(StoreError) -> (version: UInt32, changed: Bool) {
    let json = try DefinitionSnapshots.shared.json(of: definition) { definition throws(StoreError) in
      try encode(definition)
    }
    let reply: RESPValue
    do {
      reply = try await client.evalScript(
        Scripts.registerWorkflow, keys: [RedisArgument(registeredWorkflowsKey(definition.name))],
        arguments: [RedisArgument(definition.name), RedisArgument(json)])
    } catch {
      throw StoreError(redis: error)
    }
    guard let parts = reply.array, parts.count == 2, let version = parts[0].int, let changed = parts[1].int,
      let exact = UInt32(exactly: version)
    else {
      throw StoreError(.corrupt, "unexpected reply to the register script: \(reply)")
    }
    return (exact, changed == 1)
  }

  public func registeredWorkflow(named name: String) async throws(StoreError) -> WorkflowDefinition? {
    let key = registeredWorkflowsKey(name)
    let reply = try await send(["HGET", RedisArgument(key), RedisArgument("d:\(name)")], about: "HGET \(key)")
    guard let json = reply.bytes else { return nil }
    do {
      return try DefinitionSnapshots.shared.definition(from: json)
    } catch {
      throw StoreError(.corrupt, "the registered workflow '\(name)' cannot be read: \(error)")
    }
  }
}

extension Scripts {
  /// KEYS: the registered workflows' hash. ARGV: name, definition JSON.
  /// Returns {version, 1 if it changed else 0}.
  static let registerWorkflow = RedisScript(
    """
    local current = redis.call('HGET', KEYS[1], 'd:' .. ARGV[1])
    if current == ARGV[2] then
      return {tonumber(redis.call('HGET', KEYS[1], 'v:' .. ARGV[1])), 0}
    end
    redis.call('HSET', KEYS[1], 'd:' .. ARGV[1], ARGV[2])
    return {redis.call('HINCRBY', KEYS[1], 'v:' .. ARGV[1], 1), 1}
    """)
}
