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

@Suite("Money and budgets")
struct MoneyTests {
  @Test func dollarsBecomeMicrosOnlyWhenFiniteAndNotNegative() {
    #expect(Money.micros(fromDollars: 0.045) == 45_000)
    #expect(Money.micros(fromDollars: 0) == 0)
    #expect(Money.micros(fromDollars: -0.01) == nil)
    #expect(Money.micros(fromDollars: .infinity) == nil)
    #expect(Money.micros(fromDollars: .nan) == nil)
    #expect(Money.micros(fromDollars: 2e12) == nil)
    #expect(Money.text(250_000) == "$0.25" && Money.text(45_000) == "$0.045" && Money.text(12_500_000) == "$12.50")
    #expect(Money.text(1) == "$0.000001" && Money.text(-100_000) == "-$0.10")
  }

  @Test func aStopNamesTheBudgetTheSpendingAndTheEstimate() {
    let stop = BudgetStop(budgetMicros: 250_000, spentMicros: 200_000, inFlightMicros: 50_000, estimateMicros: 100_000)
    #expect(stop.projectedMicros == 350_000)
    #expect(
      stop.message(step: "s3")
        == "budget: the next attempt of step 's3' would take the run to $0.35 ($0.20 spent + $0.05 running + $0.10 expected), past its budget of $0.25")
  }

  @Test func aSpendReadingKeepsTheLastSixtyMinutes() {
    let minute: Int64 = 60_000
    let now = 1_000 * minute + 30_000
    let reading = SpendReading(parts: [1_000: 5, 941: 7, 940: 11, 999: 0], nowMs: now)
    #expect(reading.spentMicros == 12)
    #expect(reading.nextDropAtMs == 1_001 * minute, "minute 941 leaves the window when minute 1001 begins")
    #expect(SpendReading(parts: [:], nowMs: now) == SpendReading(spentMicros: 0, nextDropAtMs: nil))
  }
}
