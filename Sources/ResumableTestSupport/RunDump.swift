public import ResumableRedis

/// Every stored field of run `id` under key prefix `prefix` (its run, step
/// and artifact hashes, sorted field by field, and its event count), to check
/// that an operation wrote nothing: compare a dump before and after.
///
/// - Important: Tests only.
public func dumpRun(_ client: RedisClient, prefix: String, id: String) async throws -> [String] {
  var lines: [String] = []
  for part in ["run", "steps", "artifacts"] {
    let reply = try await client.send(["HGETALL", RedisArgument("\(prefix):{\(id)}:\(part)")])
    // Field by field, sorted: a hash's order may change without a write.
    let flat = reply.array ?? []
    let fields = stride(from: 0, to: flat.count - 1, by: 2).map { "\(flat[$0]) = \(flat[$0 + 1])" }.sorted()
    lines.append("\(part): \(fields)")
  }
  let events = try await client.send(["XLEN", RedisArgument("\(prefix):{\(id)}:events")])
  lines.append("events: \(events)")
  return lines
}
