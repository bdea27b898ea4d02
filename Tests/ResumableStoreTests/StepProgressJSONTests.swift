import Foundation
import ResumableCore
import Testing

@testable import ResumableStore

/// The fast path for step records writes what `JSONEncoder` writes and reads
/// it back; anything else is left to `JSONDecoder`.
@Suite struct StepProgressJSONTests {
  static let states: [StepProgress] = [
    StepProgress(),
    StepProgress().beginningAttempt(at: 1_764_000_000_123),
    StepProgress(
      status: .completed, attempts: 3, usage: StepUsage(inputTokens: 1200, outputTokens: 300, costMicros: 100_000),
      committedCostMicros: 100_000, savedMicros: 50_000, lastError: "a \"quoted\" / slashed \\ line\nnext\ttab\u{1}é",
      lastErrorClass: .rateLimited, startedAtMs: 1, finishedAtMs: 2, artifactBytes: 2048,
      waitReason: "retry-after 5 ms", nextAttemptAtMs: -3,
      given: GivenContext(
        inputs: [.init(name: "input", bytes: 4), .init(name: "s1", bytes: 2048)], historyMessages: 2, historyBytes: 99)),
    StepProgress(status: .running, attempts: 0, startedAtMs: 5, itemsTotal: 20),
    StepProgress(status: .failed, attempts: UInt32.max, usage: StepUsage(inputTokens: .max, outputTokens: 0, costMicros: .min),
      lastErrorClass: .nonRetryable, given: GivenContext()),
    // The cache counts, each alone and both (written only when not 0).
    StepProgress(status: .completed, attempts: 1, usage: StepUsage(inputTokens: 200, outputTokens: 30, cachedInputTokens: 1000, costMicros: 1)),
    StepProgress(status: .completed, attempts: 1, usage: StepUsage(inputTokens: 2, cacheWriteTokens: .max, costMicros: 2)),
    StepProgress(
      status: .completed, attempts: 2,
      usage: StepUsage(inputTokens: 7, outputTokens: 8, cachedInputTokens: 9, cacheWriteTokens: 10, costMicros: 11)),
  ]

  static func encoded(_ state: StepProgress) throws -> [UInt8] {
    Array(try RunRecordDecoder.encoder.encode(state))
  }

  @Test(arguments: states) func writesWhatJSONEncoderWrites(_ state: StepProgress) throws {
    #expect(StepProgressJSON.encode(state) == (try Self.encoded(state)))
  }

  @Test(arguments: states) func readsBackWhatItWrites(_ state: StepProgress) throws {
    #expect(StepProgressJSON.decode(StepProgressJSON.encode(state)) == state)
    let decoded = try JSONDecoder().decode(StepProgress.self, from: Data(StepProgressJSON.encode(state)))
    #expect(decoded == state)
  }

  @Test func leavesOtherShapesToJSONDecoder() {
    let valid = String(decoding: StepProgressJSON.encode(StepProgress()), as: UTF8.self)
    for other in [
      valid.replacingOccurrences(of: "\"attempts\":0", with: "\"attempts\":0.5"),
      valid.replacingOccurrences(of: "\"attempts\":0", with: "\"attempts\":1e3"),
      valid.replacingOccurrences(of: "\"attempts\":0,", with: ""),
      valid.replacingOccurrences(of: "{\"artifactBytes\"", with: "{\"unknown\":1,\"artifactBytes\""),
      valid.replacingOccurrences(of: "\"PENDING\"", with: "\"P\\ud800NDING\""),
      valid.replacingOccurrences(of: "\"attempts\":0", with: "\"attempts\":99999999999"),
      valid + "x", "", "[]",
    ] {
      #expect(StepProgressJSON.decode(Array(other.utf8)) == nil, "\(other)")
    }
    // Spaces and nulls, as JSONDecoder accepts them, are read too.
    let spaced = String(valid.dropLast()).replacingOccurrences(of: ",", with: " , ") + " , \"lastError\" : null }"
    #expect(StepProgressJSON.decode(Array(spaced.utf8)) == StepProgress())
  }

  /// Fails when a field is added to a type the fast path writes: add it to `StepProgressJSON` too.
  @Test func knowsEveryField() {
    #expect(Mirror(reflecting: StepProgress()).children.count == 14)
    #expect(Mirror(reflecting: StepUsage()).children.count == 5)
    #expect(Mirror(reflecting: GivenContext()).children.count == 3)
    #expect(Mirror(reflecting: GivenContext.Input(name: "", bytes: 0)).children.count == 2)
  }
}
