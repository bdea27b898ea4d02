import Foundation
public import ResumableCore
import ResumableRedis

/// The approval of a waiting run, as the run hash's `approval` field holds it (JSON);
/// a held artifact lives beside it in `held_artifact`.
struct StoredApproval: Codable {
  struct Held: Codable {
    var history: [HistoryEntry]
    var step: StepProgress
  }

  var step: String
  var cursor: Int
  var token: String
  var kind: String
  var confidence: Double
  var threshold: Double
  var requested_at_ms: Int64
  var deadline_ms: Int64
  var held: Held?
  var budget: BudgetStop?

  init(_ approval: PendingApproval) {
    step = approval.stepName
    cursor = approval.cursor
    token = approval.token
    kind = approval.kind.rawValue
    confidence = approval.confidence
    threshold = approval.threshold
    requested_at_ms = approval.requestedAtMs
    deadline_ms = approval.deadlineMs
    held = approval.held.map { Held(history: $0.history, step: $0.step) }
    budget = approval.budget
  }

  /// The approval, with the held artifact when there is one.
  func pending(heldArtifact: [UInt8]?) throws(StoreError) -> PendingApproval {
    guard let kind = PendingApproval.Kind(rawValue: kind) else {
      throw StoreError(.corrupt, "an approval of an unknown kind '\(kind)'")
    }
    return PendingApproval(
      stepName: step, cursor: cursor, token: token, kind: kind, confidence: confidence, threshold: threshold,
      requestedAtMs: requested_at_ms, deadlineMs: deadline_ms,
      held: held.map { PendingApproval.HeldOutput(artifact: heldArtifact ?? [], history: $0.history, step: $0.step) },
      budget: budget)
  }

  static func decode(_ bytes: [UInt8], heldArtifact: [UInt8]?) throws(StoreError) -> PendingApproval {
    let stored: StoredApproval
    do {
      stored = try JSONDecoder().decode(StoredApproval.self, from: Data(bytes))
    } catch {
      throw StoreError(.corrupt, "an unreadable approval: \(error)")
    }
    return try stored.pending(heldArtifact: heldArtifact)
  }
}

extension RedisStateStore {
  public func requestApproval(_ request: ApprovalRequest) async throws(StoreError) {
    let timing = request.timing
    let approval = request.approval
    _ = try await write(
      Scripts.requestApproval, request.workflowID, timing,
      [
        RedisArgument(request.fence), RedisArgument(approval.cursor), RedisArgument(approval.stepName),
        RedisArgument(encode(request.step)), RedisArgument(try encode(StoredApproval(approval))),
        RedisArgument(approval.held?.artifact ?? []), RedisArgument(request.usage.costMicros),
        RedisArgument(request.usage.inputTokens), RedisArgument(request.usage.outputTokens),
        RedisArgument(timing.nowMs), RedisArgument(timing.ttlMs), RedisArgument(timing.nowMs + timing.ttlMs),
        RedisArgument(
          Self.event(
            "approval_requested", step: approval.stepName, attempt: Int(request.step.attempts), at: timing.nowMs,
            status: approval.runStatus, message: approval.requestMessage)),
        RedisArgument(approval.runStatus.rawValue), RedisArgument(request.usage.cachedInputTokens),
        RedisArgument(request.usage.cacheWriteTokens),
      ],
      // Due at the deadline: the recovery check then fails the unanswered run.
      after: [index(request.workflowID, dueAtMs: approval.deadlineMs)])
  }

  public func answerApproval(_ answer: ApprovalAnswer, lease: Duration) async throws(StoreError) -> ApprovalOutcome {
    let timing = answer.timing
    let reply = try await write(
      Scripts.answerApproval, answer.workflowID, timing,
      [
        RedisArgument(answer.token), answer.approve ? "1" : "0", RedisArgument(timing.nowMs),
        RedisArgument(lease.wholeMilliseconds),
        RedisArgument(
          Self.event(
            answer.eventType, step: "", attempt: 0, at: timing.nowMs,
            status: answer.approve ? .running : .failed, message: answer.eventMessage)),
        RedisArgument(answer.rejectionAfterStep), RedisArgument(timing.ttlMs),
        RedisArgument(timing.nowMs + timing.ttlMs), RedisArgument(answer.answers.rawValue),
        RedisArgument(answer.refusalAfterStatus), RedisArgument(answer.raisedBudgetText),
        RedisArgument(answer.rejectionBeforeStep),
      ],
      // Approved: RUNNING again, so back in the index (a superset: harmless if refused).
      after: answer.approve ? [index(answer.workflowID, dueAtMs: timing.nowMs + lease.wholeMilliseconds)] : [])
    let parts = reply.array ?? []
    switch parts.first?.string {
    case "approved":
      guard parts.count == 4, let fence = parts[1].int, let json = parts[2].bytes else { break }
      return .approved(fence: UInt64(fence), approval: try StoredApproval.decode(json, heldArtifact: parts[3].bytes))
    case "rejected": return .rejected
    case "refused": return .refused(parts.count > 1 ? parts[1].string ?? "" : "")
    case "gone": return .notFound
    default: break
    }
    throw StoreError(.corrupt, "unexpected reply to the approval script: \(reply)")
  }
}

extension ApprovalAnswer {
  /// The raised budget in micro-dollars, as the answer script takes it ('' for none).
  var raisedBudgetText: String {
    guard case .raise(let micros)? = budget else { return "" }
    return "\(micros)"
  }
}
