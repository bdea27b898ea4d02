import ResumableCore
@testable import ResumableServer
import ResumableWire
import Testing

/// The engine's error codes carry gRPC's numbers: each goes on the wire as the
/// status of its own name.
@Suite struct WireMappingTests {
  static let codes: [EngineError.Code] = [
    .invalidArgument, .deadlineExceeded, .notFound, .alreadyExists, .resourceExhausted, .failedPrecondition, .aborted,
    .internal, .unavailable,
  ]

  @Test(arguments: codes)
  func anEngineErrorCodeIsSentAsTheStatusOfItsName(_ code: EngineError.Code) {
    #expect(StatusCode(code).description == code.description)
  }

  @Test func theCodesAreDistinct() {
    #expect(Set(Self.codes).count == Self.codes.count)
    #expect(Set(Self.codes.map(\.number)).count == Self.codes.count)
  }
}
