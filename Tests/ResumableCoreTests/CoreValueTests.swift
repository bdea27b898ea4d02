import ResumableCore
import Testing

@Suite("Core values")
struct CoreValueTests {
  @Test(arguments: ["a", "run-1", "A.b_c:d-9", String(repeating: "x", count: 128)])
  func validWorkflowIDs(_ id: String) {
    #expect(WorkflowID.problem(with: id) == nil)
  }

  @Test(arguments: ["", "has space", "slash/no", "brace{x}", "é", String(repeating: "x", count: 129), "nul\u{0}"])
  func invalidWorkflowIDs(_ id: String) {
    #expect(WorkflowID.problem(with: id) != nil)
  }

  @Test func jsonRoundTripsAndRejectsGarbage() throws {
    let value = try JSONValue(parsing: Array(#"{"a":[1,true,null,"x"],"b":{"c":2.5}}"#.utf8))
    #expect(try JSONValue(parsing: value.serialized()) == value)
    #expect(try JSONValue(parsing: Array("42".utf8)) == .number(42))
    #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: Array("{nope".utf8)) }
    #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: [0xFF, 0xFE]) }
  }

  @Test func backoffIsCappedExponential() {
    let policy = RetryPolicy(maxAttempts: 5, initialBackoffMilliseconds: 100, maxBackoffMilliseconds: 1000, multiplier: 2)
    #expect((1...6).map { policy.backoffCap(afterAttempt: $0) } == [100, 200, 400, 800, 1000, 1000])
    for attempt in 1...6 {
      #expect(policy.backoff(afterAttempt: attempt) <= .milliseconds(policy.backoffCap(afterAttempt: attempt)))
    }
  }
}
