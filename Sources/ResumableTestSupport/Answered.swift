import Synchronization

/// The outcome of `body`, or a thrown ``TestSupportError`` when `body` has not returned
/// within `limit`. For proving that a call returns at all (say, while Redis is stopped):
/// `limit` is a generous bound, not a timing to assert.
///
/// `body` runs in a task of its own, which is left running (and its result dropped) when the
/// limit passes, so a call that never returns fails the test instead of hanging it.
///
/// - Returns: what `body` returned or threw, as a `Result`.
public func answered<T: Sendable>(
  within limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> Result<T, any Error> {
  let outcome = Mutex<Result<T, any Error>?>(nil)
  let task = Task {
    let result: Result<T, any Error>
    do {
      result = .success(try await body())
    } catch {
      result = .failure(error)
    }
    outcome.withLock { $0 = result }
  }
  let deadline = ContinuousClock.now + limit
  while ContinuousClock.now < deadline {
    if let result = outcome.withLock({ $0 }) { return result }
    try await Task.sleep(for: .milliseconds(10))
  }
  task.cancel()
  throw TestSupportError("\(what) did not return within \(limit)")
}

extension Result {
  /// The error, when this is a failure; nil for a success.
  public var failureValue: Failure? {
    if case .failure(let error) = self { return error }
    return nil
  }
}
