import ResumableTestSupport
import Synchronization
import Testing

@testable import ResumableCore

/// The engine-wide lease keeper, driven through its renew function: no store is faked, the
/// keeper's scheduling is what is under test (the store's own deadline is tested with Redis).
@Suite struct AttemptLeasesTests {
  /// Counts renewals per run; the renewals of `stuck` wait until `release()`.
  final class Renewals: Sendable {
    let counts = Mutex<[String: Int]>([:])
    let gate = AsyncStream.makeStream(of: Void.self)

    func renew(_ entry: AttemptLeases.Entry) async -> Bool? {
      let count = counts.withLock { counts in
        counts[entry.workflowID, default: 0] += 1
        return counts[entry.workflowID]!
      }
      if entry.workflowID == "stuck", count == 1 {
        for await _ in gate.stream {}
      }
      return entry.workflowID != "lost"
    }

    func count(_ id: String) -> Int { counts.withLock { $0[id] ?? 0 } }
    func release() { gate.continuation.finish() }
  }

  @Test func oneStuckRenewalDoesNotHoldBackTheOthers() async throws {
    let leases = AttemptLeases()
    _ = leases.register(workflowID: "stuck", fence: 1)
    for id in ["a", "b", "c"] { _ = leases.register(workflowID: id, fence: 1) }
    let renewals = Renewals()
    let keeper = Task { await leases.keep(lease: .milliseconds(300)) { await renewals.renew($0) } }

    // The first renewal of `stuck` never answers; the others go on being renewed, each
    // time its third of the lease has passed. (A generous timeout: under a loaded
    // `make test` the cooperative pool is shared with hundreds of tests.)
    try await eventually(timeout: .seconds(30)) {
      guard renewals.count("stuck") == 1, ["a", "b", "c"].allSatisfy({ renewals.count($0) >= 5 }) else {
        throw TestSupportError("renewals so far: \(renewals.counts.withLock { $0 })")
      }
    }
    // Still out, so never sent again meanwhile; once it answers, it is due again.
    #expect(renewals.count("stuck") == 1)
    renewals.release()
    try await eventually(timeout: .seconds(10)) {
      guard renewals.count("stuck") >= 2 else { throw TestSupportError("not renewed again") }
    }
    keeper.cancel()
    await keeper.value
  }

  @Test func aLostLeaseEndsTheAttempt() async throws {
    let leases = AttemptLeases()
    let (_, attempt) = leases.register(workflowID: "lost", fence: 1)
    let renewals = Renewals()
    let keeper = Task { await leases.keep(lease: .milliseconds(300)) { await renewals.renew($0) } }
    guard case .leaseLost = await attempt.wait() else {
      Issue.record("the attempt did not end with its lease lost")
      return
    }
    keeper.cancel()
    await keeper.value
  }

  /// The attempt's end is the first of its plugin's answer, its lease's loss and its
  /// timeout, whichever comes first, whether it comes before the driver waits or after.
  @Test func theFirstEndOfAnAttemptWins() async throws {
    let early = AttemptEnd()
    early.end(.leaseLost)
    early.end(.cancelled)
    guard case .leaseLost = await early.wait() else {
      Issue.record("an end told before the wait was not kept")
      return
    }
    let late = AttemptEnd()
    let waiter = Task { await late.wait() }
    late.end(.failed(StepFailure("timed out", retryable: true)))
    late.end(.leaseLost)
    guard case .failed(let failure) = await waiter.value, failure.message == "timed out" else {
      Issue.record("the first end after the wait was not the one returned")
      return
    }
  }
}
