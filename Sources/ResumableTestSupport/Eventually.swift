/// Runs `body` until it does not throw, pausing `interval` between tries, and returns its
/// result; after `timeout` the last error is rethrown. For waiting on something that
/// recovers by itself, such as a client reconnecting to a restarted Redis.
public func eventually<T>(
  timeout: Duration = .seconds(5),
  interval: Duration = .milliseconds(20),
  isolation: isolated (any Actor)? = #isolation,
  _ body: () async throws -> T
) async throws -> T {
  let deadline = ContinuousClock.now + timeout
  while true {
    do {
      return try await body()
    } catch {
      if ContinuousClock.now >= deadline { throw error }
    }
    try await Task.sleep(for: interval)
  }
}
