import ResumableCLI
import ResumableClient
import ResumableWire
import Testing

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
    #expect(codes.isSubset(of: [0, 1, 3, 4, 5, 6]))
    #expect(ResumableExitCode.forRun(.awaitingBudget, waited: true) == 6)
  }
}
