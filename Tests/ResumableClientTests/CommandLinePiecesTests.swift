import ResumableClient
import ResumableWire
import Testing

@Suite("WorkflowIDRule")
struct WorkflowIDRuleTests {
  @Test(arguments: ["a", "run-42", "A.b_c:d-e", "0", String(repeating: "x", count: 128)])
  func valid(id: String) {
    #expect(WorkflowIDRule.problem(with: id) == nil)
  }

  @Test(arguments: [
    ("", "empty"), (String(repeating: "x", count: 129), "129 bytes"), ("a b", "\" \""),
    ("a/b", "\"/\""), ("é", "\"é\""), ("a\nb", "\"\\n\""), ("{x}", "\"{\""),
  ])
  func invalid(id: String, mention: String) throws {
    let problem = try #require(WorkflowIDRule.problem(with: id))
    #expect(problem.contains(mention))
  }
}

@Suite("ResumableExitCode")
struct ResumableExitCodeTests {
  @Test(arguments: [
    (RunStatus.completed, true, Int32(0)), (.completed, false, 0),
    (.running, false, 0), (.running, true, 1),
    (.failed, true, 3), (.failed, false, 3),
    (.awaitingApproval, true, 4), (.cancelled, false, 5), (.unspecified, false, 1),
  ])
  func forRun(status: RunStatus, waited: Bool, expected: Int32) {
    #expect(ResumableExitCode.forRun(status, waited: waited) == expected)
  }

  @Test func forError() {
    let unavailable = ResumableClientError(code: .unavailable, message: "x")
    #expect(ResumableExitCode.forError(unavailable, connecting: true) == 69)
    #expect(ResumableExitCode.forError(unavailable, connecting: false) == 1)
    let notFound = ResumableClientError(code: .notFound, message: "x")
    #expect(ResumableExitCode.forError(notFound, connecting: false) == 1)
    let denied = ResumableClientError(code: .permissionDenied, message: "x")
    #expect(ResumableExitCode.forError(denied, connecting: true) == 1)
  }

  @Test func everyRunStatusHasACode() {
    let codes = Set(RunStatus.allCases.map { ResumableExitCode.forRun($0, waited: true) })
    #expect(codes.isSubset(of: [0, 1, 3, 4, 5]))
  }
}
