public import ResumableClient
import ResumableCore

/// Runs `body` with a client connected to `socketPath`, closed when `body` returns or throws.
public func withConnectedClient<T>(socketPath: String, _ body: (ResumableClient) async throws -> T) async throws -> T {
  try await withResource(try await ResumableClient.connect(socketPath: socketPath), body) { await $0.close() }
}
