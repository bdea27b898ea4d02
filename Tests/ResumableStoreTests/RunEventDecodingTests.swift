import ResumableCore
@testable import ResumableStore
import Testing

/// Events as the scripts store them, read back leniently.
@Suite("Run events")
struct RunEventDecodingTests {
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
