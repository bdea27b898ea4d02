import ResumableCore
import ResumableStore
import ResumableTestSupport
import Testing

/// Shared limiters, asserted against both stores (the Redis store's Lua and
/// `LimitMath`, which the in-memory store runs, must agree).
extension StoreConformanceTests {
  @Test(arguments: StoreKind.allCases)
  func aRateGrantsItsBurstThenOneAnInterval(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let limiter = Limiter(name: "api", limit: SharedLimit(kind: .rate(count: 4, perMs: 1000, burst: 2)))
      let t: Int64 = 1_800_000_000_000
      #expect(await s.ask(limiter, holder: "a", tokens: 0, leaseMs: 1000, nowMs: t) == .granted)
      #expect(await s.ask(limiter, holder: "b", tokens: 0, leaseMs: 1000, nowMs: t) == .granted)
      #expect(await s.ask(limiter, holder: "c", tokens: 0, leaseMs: 1000, nowMs: t) == .wait(untilMs: t + 250, why: .rate))
      #expect(await s.ask(limiter, holder: "c", tokens: 0, leaseMs: 1000, nowMs: t + 250) == .granted)
      let keyed = Limiter(name: "api", limit: limiter.limit, key: "acme")
      #expect(await s.ask(keyed, holder: "d", tokens: 0, leaseMs: 1000, nowMs: t) == .granted, "its own limiter")
    }
  }

  @Test(arguments: StoreKind.allCases)
  func concurrencySlotsAreLeasedAndFreed(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let limiter = Limiter(name: "pool", limit: SharedLimit(kind: .concurrency(2)))
      let t: Int64 = 1_800_000_000_000
      #expect(await s.ask(limiter, holder: "a", tokens: 0, leaseMs: 1000, nowMs: t) == .granted)
      #expect(await s.ask(limiter, holder: "b", tokens: 0, leaseMs: 2000, nowMs: t) == .granted)
      #expect(await s.ask(limiter, holder: "c", tokens: 0, leaseMs: 1000, nowMs: t) == .wait(untilMs: t + 1000, why: .full))
      try await s.store.releaseLimit(limiter, holder: "b", reserved: 0, used: nil, nowMs: t + 10)
      #expect(await s.ask(limiter, holder: "c", tokens: 0, leaseMs: 1000, nowMs: t + 10) == .granted)
      // a's lease lapses (its server died), unless renewed: c renews, a does not.
      try await s.store.renewLimit(limiter, holder: "c", leaseMs: 5000, nowMs: t + 900)
      #expect(await s.ask(limiter, holder: "d", tokens: 0, leaseMs: 1000, nowMs: t + 1500) == .granted)
      #expect(await s.ask(limiter, holder: "e", tokens: 0, leaseMs: 1000, nowMs: t + 1500) == .wait(untilMs: t + 2500, why: .full))
    }
  }

  @Test(arguments: StoreKind.allCases)
  func tokensAreReservedThenSettledWithWhatWasUsed(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let limiter = Limiter(name: "tpm", limit: SharedLimit(kind: .tokensPerMinute(600)))
      let t: Int64 = 1_800_000_000_000
      #expect(await s.ask(limiter, holder: "a", tokens: 400, leaseMs: 1000, nowMs: t) == .granted)
      // 200 left: 300 must wait for 100 more, 10 a second at 600 a minute.
      #expect(await s.ask(limiter, holder: "b", tokens: 300, leaseMs: 1000, nowMs: t) == .wait(untilMs: t + 10_000, why: .tokens))
      // a used only 100 of its 400: 300 come back.
      try await s.store.releaseLimit(limiter, holder: "a", reserved: 400, used: 100, nowMs: t)
      #expect(await s.ask(limiter, holder: "b", tokens: 300, leaseMs: 1000, nowMs: t) == .granted)
      // 200 left; b used 700 (more than it reserved): the bucket owes 200.
      try await s.store.releaseLimit(limiter, holder: "b", reserved: 300, used: 700, nowMs: t)
      #expect(await s.ask(limiter, holder: "c", tokens: 1, leaseMs: 1000, nowMs: t) == .wait(untilMs: t + 20_100, why: .tokens))
    }
  }

  @Test(arguments: StoreKind.allCases)
  func aHoldStopsEveryKindUntilItEnds(kind: StoreKind) async throws {
    try await StoreUnderTest.with(kind) { s in
      let limiter = Limiter(name: "api", limit: SharedLimit(kind: .rate(count: 100, perMs: 1000, burst: 100)))
      let t: Int64 = 1_800_000_000_000
      try await s.store.holdLimit(limiter, untilMs: t + 2000)
      try await s.store.holdLimit(limiter, untilMs: t + 1000)  // an earlier hold does not shorten it
      #expect(await s.ask(limiter, holder: "a", tokens: 0, leaseMs: 1000, nowMs: t) == .wait(untilMs: t + 2000, why: .held))
      #expect(await s.ask(limiter, holder: "a", tokens: 0, leaseMs: 1000, nowMs: t + 2000) == .granted)
    }
  }
}

extension StoreUnderTest {
  /// A limiter's answer, or nil when the store failed (recorded as an issue).
  func ask(_ limiter: Limiter, holder: String, tokens: UInt64, leaseMs: Int64, nowMs: Int64) async -> LimitAnswer? {
    do {
      return try await store.acquireLimit(limiter, holder: holder, tokens: tokens, leaseMs: leaseMs, nowMs: nowMs)
    } catch {
      Issue.record("the store failed: \(error)")
      return nil
    }
  }
}
