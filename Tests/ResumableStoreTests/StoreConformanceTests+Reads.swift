import ResumableCore
import ResumableStore
import ResumableTestSupport
import Testing

/// Reads as `GetState` makes them, against both stores.
extension StoreConformanceTests {
  @Test(arguments: StoreKind.allCases)
  func aReadWithoutTheInputIsTheRunButItsInput(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      try await Self.failedRun(s, "r", at: s.nowMs)
      let whole = try #require(try await s.store.load(workflowID: "r", includeArtifacts: true, includeHistory: true))
      var state = try #require(
        try await s.store.load(workflowID: "r", includeArtifacts: true, includeHistory: true, includeInput: false))
      #expect(whole.input == Array("{}".utf8) && state.input.isEmpty)
      state.input = whole.input
      #expect(state == whole)
      #expect(try await s.store.load(workflowID: "ghost", includeArtifacts: false, includeHistory: false, includeInput: false) == nil)
    }
  }
}
