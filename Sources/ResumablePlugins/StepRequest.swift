import Foundation
public import ResumableCore

/// The JSON document the `exec` and `http` plugins hand to the program or
/// endpoint that does a step's work — the same for both:
///
/// ```json
/// {"workflow_id": "…", "workflow": "…", "step": "…", "step_index": 0,
///  "attempt": 1, "idempotency_key": "workflow_id/step/attempt",
///  "deadline_ms": 1764201600000, "config": {…}, "inputs": {"name": <JSON>}}
/// ```
///
/// `inputs` holds the step's declared inputs only (context pruning), each as
/// the JSON it was stored as; `deadline_ms` is the attempt's deadline in
/// milliseconds since the epoch, or null without a step timeout; `config` is
/// the step's `params` setting (null when absent).
public enum StepRequest {
  public static func document(for context: StepContext, params: JSONValue) -> [UInt8] {
    var inputs: [String: JSONValue] = [:]
    for (name, bytes) in context.inputs {
      // Inputs are stored JSON; anything else travels as a string.
      inputs[name] = (try? JSONValue(parsing: bytes)) ?? .string(String(decoding: bytes, as: UTF8.self))
    }
    var deadline = JSONValue.null
    if let instant = context.deadline {
      let remaining = ContinuousClock.now.duration(to: instant)
      let nowMs = Date().timeIntervalSince1970 * 1000
      deadline = .number((nowMs + Double(remaining.wholeMilliseconds)).rounded())
    }
    return JSONValue.object([
      "workflow_id": .string(context.workflowID),
      "workflow": .string(context.workflowName),
      "step": .string(context.stepName),
      "step_index": .number(Double(context.stepIndex)),
      "attempt": .number(Double(context.attempt)),
      "idempotency_key": .string(context.idempotencyKey),
      "deadline_ms": deadline,
      "config": params,
      "inputs": .object(inputs),
    ]).serialized()
  }

  /// The name of the member of a result object that carries usage; it is
  /// removed from the artifact: `{"input_tokens": n, "output_tokens": n, "cost_usd": x}`, and
  /// `cached_input_tokens`, `cache_write_tokens` (`StepUsage` says what each counts).
  public static let usageMember = "resumable_usage"

  /// Splits a program's or endpoint's JSON result into the artifact and the usage it reports.
  /// - Throws: `StepFailure` (non-retryable) when the body is not JSON or the usage is malformed.
  public static func output(from body: [UInt8], source: String) throws -> StepOutput {
    let value: JSONValue
    do {
      value = try JSONValue(parsing: body)
    } catch {
      let preview = String(decoding: body.prefix(200), as: UTF8.self)
      throw StepFailure("\(source) did not produce JSON (\(error.message)); it began: \(preview)", retryable: false)
    }
    guard case .object(var members) = value, let usageValue = members.removeValue(forKey: usageMember) else {
      return StepOutput(artifact: body)
    }
    guard case .object(let usage) = usageValue else {
      throw StepFailure("\(source): '\(usageMember)' must be an object", retryable: false)
    }
    func count(_ key: String) throws -> UInt64 {
      guard let member = usage[key] else { return 0 }
      guard let number = member.numberValue, number >= 0, number.rounded() == number, number < 1e15 else {
        throw StepFailure("\(source): '\(usageMember).\(key)' must be a whole number ≥ 0", retryable: false)
      }
      return UInt64(number)
    }
    var cost: Int64 = 0
    if let dollars = usage["cost_usd"] {
      guard let number = dollars.numberValue, number >= 0, number < 1e9 else {
        throw StepFailure("\(source): '\(usageMember).cost_usd' must be a number ≥ 0", retryable: false)
      }
      cost = Int64((number * 1_000_000).rounded())
    }
    return StepOutput(
      artifact: JSONValue.object(members).serialized(),
      usage: StepUsage(
        inputTokens: try count("input_tokens"), outputTokens: try count("output_tokens"),
        cachedInputTokens: try count("cached_input_tokens"), cacheWriteTokens: try count("cache_write_tokens"),
        costMicros: cost))
  }
}
