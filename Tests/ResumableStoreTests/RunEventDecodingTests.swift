import ResumableCore
@testable import ResumableStore
import Testing

/// Events as the scripts store them, read back leniently.
@Suite("Run events")
struct RunEventDecodingTests {
  /// An event is written member by member: the bytes are those of the same
  /// object as a `JSONValue`, keys sorted.
  @Test(arguments: [
    (RunRecord.Status?.none, String?.none, Int64(0)), (.running, "boom \"quoted\"/é\n", 1_765_000_000_123),
    (.completed, "", 0), (.failed, "a reason", 5),
  ])
  func anEventIsTheSerializedObject(status: RunRecord.Status?, message: String?, next: Int64) {
    var members: [String: JSONValue] = [
      "type": .string("attempt_failed"), "step": .string("dra/ft"), "attempt": .number(3),
      "at_ms": .number(1_765_000_000_000),
    ]
    if let status { members["status"] = .string(status.rawValue) }
    if let message, !message.isEmpty { members["message"] = .string(message) }
    if next > 0 { members["next_attempt_at_ms"] = .number(Double(next)) }
    let written = RedisStateStore.event(
      "attempt_failed", step: "dra/ft", attempt: 3, at: 1_765_000_000_000, status: status, message: message,
      nextAttemptAtMs: next)
    #expect(written == JSONValue.object(members).serialized())
  }

  @Test func aStoredEventRoundTrips() {
    let json = RedisStateStore.event(
      "attempt_failed", step: "draft", attempt: 2, at: 1_700, status: .running, message: "boom", nextAttemptAtMs: 1_900)
    #expect(
      RedisStateStore.decodeEvent(json)
        == RunEventRecord(
          type: "attempt_failed", step: "draft", attempt: 2, atMs: 1_700, message: "boom", nextAttemptAtMs: 1_900,
          status: .running))
  }

  @Test func missingOrOddMembersGetDefaults() {
    #expect(
      RedisStateStore.decodeEvent(Array(#"{"type":"run_started","step":"a","attempt":1,"at_ms":5}"#.utf8))
        == RunEventRecord(type: "run_started", step: "a", attempt: 1, atMs: 5))
    #expect(
      RedisStateStore.decodeEvent(Array(#"{"attempt":-3,"at_ms":"x","status":"SLEEPY"}"#.utf8))
        == RunEventRecord(type: "unknown"))
    #expect(RedisStateStore.decodeEvent(Array("not json".utf8)) == RunEventRecord(type: "unreadable", message: "not json"))
  }
}
