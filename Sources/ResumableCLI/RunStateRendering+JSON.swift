public import ResumableWire
import Foundation

extension RunStateRendering {
  /// The run as one JSON object (pretty-printed, keys sorted), as `resumable … --json` prints it.
  ///
  /// Fields: `workflow_id`, `workflow`, `status`, `current_step`, `current_step_index`,
  /// `running_steps` (every step at work: several in a parallel workflow), `steps`
  /// (each: `name`, `plugin`, `status`, `attempts`, `cost_usd`, `input_tokens`, `output_tokens`,
  /// `cached_input_tokens`, `cache_write_tokens`,
  /// `artifact_bytes`, `saved_usd`, `last_error`, `last_error_retryable`, `last_error_class`,
  /// `wait_reason`, `next_attempt_at`, `inputs_given`, `history_messages_given`,
  /// `history_bytes_given`, `started_at`,
  /// `finished_at`), `cost` (`spent_usd`, `saved_by_resume_usd`, `input_tokens`,
  /// `output_tokens`, `cached_input_tokens`, `cache_write_tokens`), `resumes`, `error`, `schema_version`, `created_at`, `updated_at`,
  /// `expires_at`, and with `includeArtifacts` `artifacts`: step name → the artifact as parsed
  /// JSON, or `{"base64": "…"}` when it is not JSON. Money is in US dollars (`micros / 1e6`);
  /// times are RFC 3339 UTC strings; empty errors, unset times and non-finite numbers (which
  /// JSON cannot express) are `null`.
  /// - Parameters:
  ///   - state: The run.
  ///   - includeArtifacts: Whether to add the `artifacts` object.
  public static func json(_ state: RunState, includeArtifacts: Bool) -> String {
    var object: [String: Any] = [
      "workflow_id": state.workflowID,
      "workflow": state.workflow,
      "status": state.status.renderedName,
      "current_step": state.currentStep,
      "current_step_index": Int(state.currentStepIndex),
      "running_steps": state.runningSteps,
      "steps": state.steps.map(stepObject),
      "cost": [
        "spent_usd": dollars(micros: state.cost.spentMicros),
        "saved_by_resume_usd": dollars(micros: state.cost.savedByResumeMicros),
        "input_tokens": state.cost.inputTokens,
        "output_tokens": state.cost.outputTokens,
        "cached_input_tokens": state.cost.cachedInputTokens,
        "cache_write_tokens": state.cost.cacheWriteTokens,
      ] as [String: Any],
      "budget": state.budget.hasBudget
        ? [
          "limit_usd": dollars(micros: state.budget.limitMicros),
          "projected_usd": state.status == .awaitingBudget ? dollars(micros: state.budget.projectedMicros) : NSNull(),
          "estimate_usd": state.status == .awaitingBudget ? dollars(micros: state.budget.estimateMicros) : NSNull(),
        ] as [String: Any] : NSNull(),
      "resumes": Int(state.resumes),
      "error": nullIfEmpty(state.error),
      "schema_version": Int(state.schemaVersion),
      "created_at": timestampOrNull(state.createdAtMs),
      "updated_at": timestampOrNull(state.updatedAtMs),
      "expires_at": timestampOrNull(state.expiresAtMs),
    ]
    let approval = state.approval
    object["approval"] =
      approval.token.isEmpty
      ? NSNull()
      : [
        "step": approval.step, "token": approval.token, "kind": approval.kind, "confidence": approval.confidence,
        "threshold": approval.threshold, "requested_at": timestampOrNull(approval.requestedAtMs),
        "deadline": timestampOrNull(approval.deadlineMs),
      ] as [String: Any]
    if includeArtifacts {
      var artifacts: [String: Any] = [:]
      for artifact in state.artifacts {
        artifacts[artifact.step] = artifactValue(artifact.data)
      }
      object["artifacts"] = artifacts
    }
    return serialize(object)
  }

  /// Pretty, sorted JSON text of an object; a non-finite number renders as `null`.
  static func serialize(_ object: [String: Any]) -> String {
    JSONText.render(object, pretty: true)
  }

  private static func stepObject(_ step: StepRecord) -> [String: Any] {
    var object = stepFields(step)
    if step.itemsTotal > 0 {
      object["items"] = [
        "total": Int(step.itemsTotal), "committed": Int(step.itemsCommitted), "failed": Int(step.itemsFailed),
        "running": Int(step.itemsRunning),
      ]
    }
    return object
  }

  private static func stepFields(_ step: StepRecord) -> [String: Any] {
    [
      "name": step.name,
      "plugin": step.plugin,
      "status": step.status.renderedName,
      "attempts": Int(step.attempts),
      "cost_usd": dollars(micros: step.usage.costMicros),
      "input_tokens": step.usage.inputTokens,
      "output_tokens": step.usage.outputTokens,
      "cached_input_tokens": step.usage.cachedInputTokens,
      "cache_write_tokens": step.usage.cacheWriteTokens,
      "artifact_bytes": step.artifactBytes,
      "saved_usd": dollars(micros: step.savedMicros),
      "last_error": nullIfEmpty(step.lastError),
      "last_error_retryable": step.lastErrorRetryable,
      "last_error_class": errorClassName(step.lastErrorClass),
      "wait_reason": nullIfEmpty(step.waitReason),
      "next_attempt_at": timestampOrNull(step.nextAttemptAtMs),
      "inputs_given": step.inputsGiven.map { ["name": $0.name, "bytes": $0.bytes] as [String: Any] },
      "history_messages_given": Int(step.historyMessagesGiven),
      "history_bytes_given": step.historyBytesGiven,
      "started_at": timestampOrNull(step.startedAtMs),
      "finished_at": timestampOrNull(step.finishedAtMs),
    ]
  }

  /// The artifact as a JSON value: parsed when it is JSON, `{"base64": …}` otherwise.
  private static func artifactValue(_ bytes: [UInt8]) -> Any {
    if bytes.isEmpty { return NSNull() }
    if let value = try? JSONSerialization.jsonObject(
      with: Data(bytes), options: [.fragmentsAllowed])
    {
      return value
    }
    return ["base64": Data(bytes).base64EncodedString()]
  }

  /// `RETRYABLE`, `NON_RETRYABLE`, `RATE_LIMITED`, or null when no attempt failed.
  private static func errorClassName(_ errorClass: ErrorClass) -> Any {
    switch errorClass {
    case .unspecified: NSNull()
    case .retryable: "RETRYABLE"
    case .nonRetryable: "NON_RETRYABLE"
    case .rateLimited: "RATE_LIMITED"
    }
  }

  static func nullIfEmpty(_ string: String) -> Any {
    string.isEmpty ? NSNull() : string
  }

  static func timestampOrNull(_ unixMilliseconds: Int64) -> Any {
    timestamp(unixMilliseconds: unixMilliseconds) ?? NSNull()
  }
}
