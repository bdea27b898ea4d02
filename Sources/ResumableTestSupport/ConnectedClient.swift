public import ResumableClient

/// Runs `body` with a client connected to `socketPath`, closed when `body` returns or throws.
public func withConnectedClient<T>(socketPath: String, _ body: (ResumableClient) async throws -> T) async throws -> T {
  let client = try await ResumableClient.connect(socketPath: socketPath)
  do {
    let result = try await body(client)
    await client.close()
    return result
  } catch {
    await client.close()
    throw error
  }
}
