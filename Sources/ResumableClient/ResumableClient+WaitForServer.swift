extension ResumableClient {
  /// Waits until a server accepts a connection at `socketPath`, trying every
  /// `interval`: for a program that has just started `resumable serve`.
  /// - Parameters:
  ///   - timeout: How long to keep trying.
  ///   - isAlive: Asked between tries; `false` (the server process exited) stops
  ///     the wait at once.
  /// - Returns: Whether a connection was accepted in time.
  public static func waitForServer(
    socketPath: String, timeout: Duration, interval: Duration = .milliseconds(20),
    isAlive: () -> Bool = { true }
  ) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      if let client = try? await connect(socketPath: socketPath) {
        await client.close()
        return true
      }
      guard isAlive() else { return false }
      try await Task.sleep(for: interval)
    }
    return false
  }
}
