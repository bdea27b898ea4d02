import Foundation
import ResumableCore
public import ResumableRedis
public import ResumableWire

/// What the record file (every execution of a `simulate` step, written as it
/// starts) and the stored runs (step records and event streams) say together
/// about the guarantees:
/// - G1: a committed step never runs again, and is committed exactly once;
/// - G3: no attempt (idempotency key `workflow_id/step/attempt`) runs twice;
/// - G4: a step runs again only as a later attempt of an interrupted one.
public struct RunAudit: Sendable, CustomStringConvertible {
  /// The runs under audit.
  public var runs = 0
  /// How many of them are COMPLETED.
  public var completed = 0
  /// Every execution recorded of their steps.
  public var executions = 0
  /// Executions of an attempt that was not the one committed: steps interrupted mid-flight.
  public var reExecutions = 0
  /// Each broken guarantee, in words.
  public var violations: [String] = []
  /// Each run not COMPLETED: its id, status, step and error.
  public var incomplete: [String] = []

  /// Audits the runs `states` against the record file's `lines` and their `commits`.
  /// - Parameters:
  ///   - lines: the record file's lines, `workflow_id step attempt`.
  ///   - states: the final state of every run under audit.
  ///   - commits: per run, how many `step_committed` events each step has in its stream.
  public init(lines: [String], states: [RunState], commits: [String: [String: Int]]) {
    var executed: [String: [String: [Int]]] = [:]
    for line in lines {
      let parts = line.split(separator: " ")
      guard parts.count == 3, let attempt = Int(parts[2]) else {
        violations.append("unreadable record line '\(line)'")
        continue
      }
      executed[String(parts[0]), default: [:]][String(parts[1]), default: []].append(attempt)
    }
    let audited = Set(states.map(\.workflowID))
    for id in executed.keys where !audited.contains(id) {
      violations.append("\(id): executions recorded for a run that is not under audit")
    }
    for state in states {
      let id = state.workflowID
      runs += 1
      if state.status == .completed {
        completed += 1
      } else {
        incomplete.append("\(id): \(state.status.rawValue) at '\(state.currentStep)' \(state.error)")
      }
      // A map step runs as its items (in `state.items` when asked for); the step
      // itself executes nothing, and commits once, after its items.
      for step in state.steps + state.items {
        if step.itemsTotal > 0 {
          if step.status == .completed, commits[id]?[step.name] ?? 0 != 1 {
            violations.append("\(id): map step '\(step.name)' was committed \(commits[id]?[step.name] ?? 0) times")
          }
          if step.status == .completed, step.itemsCommitted != step.itemsTotal {
            violations.append("\(id): map step '\(step.name)' committed with \(step.itemsCommitted) of \(step.itemsTotal) items")
          }
          continue
        }
        let attempts = executed[id]?[step.name] ?? []
        executions += attempts.count
        for (attempt, count) in Dictionary(grouping: attempts, by: { $0 }).mapValues(\.count) where count > 1 {
          violations.append("\(id): step '\(step.name)' attempt \(attempt) executed \(count) times (two runners at once)")
        }
        guard step.status == .completed else { continue }
        let committed = Int(step.attempts)
        let after = attempts.filter { $0 > committed }
        if !after.isEmpty {
          violations.append("\(id): step '\(step.name)' committed by attempt \(committed) ran again as attempt(s) \(after)")
        }
        if !attempts.contains(committed) {
          violations.append("\(id): step '\(step.name)' committed by attempt \(committed), which never executed")
        }
        let commitEvents = commits[id]?[step.name] ?? 0
        if commitEvents != 1 {
          violations.append("\(id): step '\(step.name)' was committed \(commitEvents) times")
        }
        reExecutions += attempts.filter { $0 < committed }.count
      }
    }
  }

  /// Reads the `step_committed` events of each run's stream.
  public static func commitEvents(redis: TestRedis, keyPrefix: String, ids: [String]) async throws -> [String: [String: Int]] {
    try await commitEvents(address: redis.address, keyPrefix: keyPrefix, ids: ids)
  }

  /// Reads the `step_committed` events of each run's stream, from the Redis at `address`.
  public static func commitEvents(address: RedisAddress, keyPrefix: String, ids: [String]) async throws -> [String: [String: Int]] {
    let client = RedisClient(address: address)
    defer { Task { await client.close() } }
    do {
      var commits: [String: [String: Int]] = [:]
      for id in ids {
        let reply = try await client.send(["XRANGE", RedisArgument("\(keyPrefix):{\(id)}:events"), "-", "+"])
        for entry in reply.array ?? [] {
          guard let fields = entry.array?.last?.array, fields.count == 2, let json = fields[1].bytes,
            case .object(let event) = try? JSONValue(parsing: json),
            event["type"]?.stringValue == "step_committed", let step = event["step"]?.stringValue
          else { continue }
          commits[id, default: [:]][step, default: 0] += 1
        }
      }
      return commits
    }
  }

  /// The counts and how many violations, on one line.
  public var description: String {
    "runs=\(runs) completed=\(completed) step_executions=\(executions) re_executions_of_interrupted_steps=\(reExecutions) violations=\(violations.count)"
  }
}
