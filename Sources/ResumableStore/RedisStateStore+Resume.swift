public import ResumableCore
import ResumableRedis

extension RedisStateStore {
  /// A resume in one round trip: the `resume` script (`Scripts+Resume.swift`),
  /// after the run's recovery index entry (a resume makes it RUNNING again; an
  /// entry for a run the script left alone is harmless: recovery clears it).
  public func resume(_ request: ResumeRequest) async throws(StoreError) -> ResumeOutcome {
    let timing = request.timing
    let id = request.workflowID
    let reply = try await write(
      Scripts.resume, id, timing,
      [
        RedisArgument(timing.nowMs), RedisArgument(timing.ttlMs), RedisArgument(timing.leaseMs),
        RedisArgument(timing.nowMs + timing.ttlMs),
        RedisArgument("," + request.plugins.sorted().joined(separator: ",") + ","),
        RedisArgument(encode(StepProgress().beginningAttempt(at: timing.nowMs))),
      ],
      after: [index(id, dueAtMs: timing.nowMs + timing.leaseMs)])
    if reply.isNull { return .notFound }
    guard let parts = reply.array, parts.count == 2, let outcome = parts[0].array, let read = parts[1].array else {
      throw StoreError(.corrupt, "unexpected reply to the resume script: \(reply)")
    }
    let record = try RunRecordDecoder.loaded(read, workflowID: id, script: "resume")
    switch outcome.first?.string {
    case "resumed":
      guard outcome.count == 4, let fence = outcome[1].int, fence > 0, let saved = outcome[2].int,
        let previous = outcome[3].string
      else { break }
      return .resumed(record, fence: UInt64(fence), savedMicros: saved, fromLapsedLease: previous == "RUNNING")
    case "held": return .held(record)
    case "ended": return .ended(record)
    case "general": return .general(record)
    case "missing":
      guard outcome.count == 2, let plugin = outcome[1].string else { break }
      return .missingPlugin(record, plugin: plugin)
    default: break
    }
    throw StoreError(.corrupt, "unexpected outcome of the resume script: \(outcome)")
  }
}
