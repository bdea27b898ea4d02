import Foundation
import ResumableCLI
import ResumableWire
import Testing

@Suite("RunStateRendering")
struct RunStateRenderingTests {
  /// A failed run of three steps: one committed, one failed after three attempts, one pending.
  static let failedRun = RunState(
    workflowID: "run-42", workflow: "research", status: .failed, currentStep: "summarize",
    currentStepIndex: 1,
    steps: [
      StepRecord(
        name: "fetch", plugin: "http", status: .completed, attempts: 1,
        usage: Usage(inputTokens: 100, outputTokens: 20, costMicros: 1_200),
        startedAtMs: 1_767_225_600_000, finishedAtMs: 1_767_225_601_500, artifactBytes: 27),
      StepRecord(
        name: "summarize", plugin: "llm", status: .failed, attempts: 3,
        usage: Usage(inputTokens: 1_100, outputTokens: 280, costMicros: 30_050, cachedInputTokens: 4_000, cacheWriteTokens: 900),
        lastError: "rate limited", lastErrorRetryable: true),
      StepRecord(name: "publish", plugin: "http", status: .pending),
    ],
    artifacts: [
      Artifact(step: "fetch", data: Array(#"{"title":"Tides","words":[1,2]}"#.utf8)),
      Artifact(step: "raw", data: [0xFF, 0x00, 0x01]),
    ],
    cost: CostLedger(
      spentMicros: 31_250, savedByResumeMicros: 1_200, inputTokens: 1_200, outputTokens: 300, cachedInputTokens: 4_000,
      cacheWriteTokens: 900),
    schemaVersion: 1, createdAtMs: 1_767_225_600_000, updatedAtMs: 1_767_225_605_123,
    expiresAtMs: 0, resumes: 2, error: "step summarize: rate limited")

  private func parse(_ json: String) throws -> [String: Any] {
    let value = try JSONSerialization.jsonObject(with: Data(json.utf8))
    return try #require(value as? [String: Any])
  }

  @Test func jsonTopLevel() throws {
    let object = try parse(RunStateRendering.json(Self.failedRun, includeArtifacts: false))
    #expect(object["workflow_id"] as? String == "run-42")
    #expect(object["workflow"] as? String == "research")
    #expect(object["status"] as? String == "FAILED")
    #expect(object["current_step"] as? String == "summarize")
    #expect(object["current_step_index"] as? Int == 1)
    #expect(object["resumes"] as? Int == 2)
    #expect(object["error"] as? String == "step summarize: rate limited")
    #expect(object["created_at"] as? String == "2026-01-01T00:00:00.000Z")
    #expect(object["updated_at"] as? String == "2026-01-01T00:00:05.123Z")
    #expect(object["expires_at"] is NSNull)
    #expect(object["artifacts"] == nil)
    let cost = try #require(object["cost"] as? [String: Any])
    #expect(cost["spent_usd"] as? Double == 0.03125)
    #expect(cost["saved_by_resume_usd"] as? Double == 0.0012)
    #expect(cost["input_tokens"] as? Int == 1_200)
    #expect(cost["output_tokens"] as? Int == 300)
    #expect(cost["cached_input_tokens"] as? Int == 4_000)
    #expect(cost["cache_write_tokens"] as? Int == 900)
  }

  @Test func jsonSteps() throws {
    let object = try parse(RunStateRendering.json(Self.failedRun, includeArtifacts: false))
    let steps = try #require(object["steps"] as? [[String: Any]])
    #expect(steps.map { $0["name"] as? String } == ["fetch", "summarize", "publish"])
    #expect(steps.map { $0["status"] as? String } == ["COMPLETED", "FAILED", "PENDING"])
    #expect(steps.map { $0["attempts"] as? Int } == [1, 3, 0])
    #expect(steps.map { $0["cost_usd"] as? Double } == [0.0012, 0.03005, 0])
    #expect(steps.map { $0["artifact_bytes"] as? Int } == [27, 0, 0])
    #expect(steps[0]["plugin"] as? String == "http")
    #expect(steps[0]["input_tokens"] as? Int == 100)
    #expect(steps[0]["output_tokens"] as? Int == 20)
    #expect(steps.map { $0["cached_input_tokens"] as? Int } == [0, 4_000, 0])
    #expect(steps.map { $0["cache_write_tokens"] as? Int } == [0, 900, 0])
    #expect(steps[0]["last_error"] is NSNull)
    #expect(steps[0]["finished_at"] as? String == "2026-01-01T00:00:01.500Z")
    #expect(steps[1]["last_error"] as? String == "rate limited")
    #expect(steps[1]["last_error_retryable"] as? Bool == true)
    #expect(steps[2]["started_at"] is NSNull)
  }

  @Test func jsonArtifacts() throws {
    let object = try parse(RunStateRendering.json(Self.failedRun, includeArtifacts: true))
    let artifacts = try #require(object["artifacts"] as? [String: Any])
    let fetch = try #require(artifacts["fetch"] as? [String: Any])
    #expect(fetch["title"] as? String == "Tides")
    #expect(fetch["words"] as? [Int] == [1, 2])
    let raw = try #require(artifacts["raw"] as? [String: Any])
    #expect(raw["base64"] as? String == "/wAB")
  }

  @Test func jsonIsOneObject() throws {
    let json = RunStateRendering.json(RunState(), includeArtifacts: true)
    let object = try parse(json)
    #expect(object["status"] as? String == "UNSPECIFIED")
    #expect(object["steps"] as? [Any] != nil)
    #expect(object["artifacts"] as? [String: Any] != nil)
    #expect(object["error"] is NSNull)
  }

  @Test func textOfAFailedRun() {
    let text = RunStateRendering.text(Self.failedRun, includeArtifacts: false)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    #expect(lines[0] == "Run run-42 of workflow research: FAILED at step summarize (2 of 3)")
    #expect(lines[2] == "STEP       STATUS     ATTEMPTS  COST (USD)  ARTIFACT BYTES")
    #expect(lines[3] == "fetch      COMPLETED         1      0.0012              27")
    #expect(lines[4] == "summarize  FAILED            3      0.0301               -")
    #expect(lines[5] == "publish    PENDING           0      0.0000               -")
    #expect(text.contains("spent $0.0313, saved by resume $0.0012"))
    #expect(text.contains("tokens: 1200 in, 4000 cached in, 900 cache write, 300 out; resumes: 2"))
    #expect(text.contains("Error: step summarize: rate limited"))
    #expect(text.contains("`resumable resume run-42`"))
    #expect(text.contains("Expires: never"))
    #expect(!text.contains("Artifact"))
  }

  @Test func textOfACompletedRunHasNoHint() {
    var state = Self.failedRun
    state.status = .completed
    state.expiresAtMs = 1_767_312_000_000
    let text = RunStateRendering.text(state, includeArtifacts: false)
    #expect(text.hasPrefix("Run run-42 of workflow research: COMPLETED\n"))
    #expect(!text.contains("resumable resume"))
    #expect(text.contains("Expires: 2026-01-02T00:00:00.000Z"))
  }

  @Test func textArtifacts() {
    var state = Self.failedRun
    state.artifacts.append(
      Artifact(step: "long", data: Array(("[" + String(repeating: "1,", count: 500) + "1]").utf8)))
    let text = RunStateRendering.text(state, includeArtifacts: true, artifactPreviewCharacters: 100)
    #expect(text.contains("Artifact fetch (31 bytes):\n  {\n    \"title\" : \"Tides\","))
    #expect(text.contains("Artifact raw (3 bytes):\n  (3 bytes, not text: use --json"))
    #expect(text.contains("Artifact long (1003 bytes):"))
    #expect(text.hasSuffix("  … (cut; use --json for the whole artifact)"))
  }

  /// A server may send any double (a plugin's confidence, say); JSON has no NaN or infinity,
  /// and rendering them must not trap: they print as `null`, in `--json` and in a watch.
  @Test(arguments: [Double.nan, .infinity, -.infinity])
  func nonFiniteNumbersRenderAsNull(value: Double) throws {
    var state = Self.failedRun
    state.status = .awaitingApproval
    state.approval = Approval(
      step: "summarize", token: "tok", kind: "low_confidence", confidence: value, threshold: 0.5)
    let object = try parse(RunStateRendering.json(state, includeArtifacts: false))
    let approval = try #require(object["approval"] as? [String: Any])
    #expect(approval["confidence"] is NSNull)
    #expect(approval["threshold"] as? Double == 0.5)
    let line = try parse(WatchProgress.stateJSON(state, type: "state"))
    let watched = try #require((line["state"] as? [String: Any])?["approval"] as? [String: Any])
    #expect(watched["confidence"] is NSNull)
  }

  @Test(arguments: [
    (Int64(0), "0.0000"), (1, "0.0000"), (50, "0.0001"), (12_345, "0.0123"),
    (1_234_567, "1.2346"), (-12_345, "-0.0123"), (-49, "0.0000"), (Int64.min, "-9223372036854.7758"),
  ])
  func usd(micros: Int64, expected: String) {
    #expect(RunStateRendering.usd(micros: micros) == expected)
  }

  @Test func timestamps() {
    #expect(RunStateRendering.timestamp(unixMilliseconds: 0) == nil)
    #expect(RunStateRendering.timestamp(unixMilliseconds: 1) == "1970-01-01T00:00:00.001Z")
    #expect(RunStateRendering.timestamp(unixMilliseconds: -1) == "1969-12-31T23:59:59.999Z")
    #expect(
      RunStateRendering.timestamp(unixMilliseconds: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
    #expect(
      RunStateRendering.timestamp(unixMilliseconds: 4_107_542_399_999)
        == "2100-02-28T23:59:59.999Z")
    #expect(
      RunStateRendering.timestamp(unixMilliseconds: 1_767_225_605_123)
        == "2026-01-01T00:00:05.123Z")
  }
}
