/// Runs `body`, then `cleanup`, whether `body` returned or threw (an async `defer`).
///
/// The one place the "clean up, then rethrow" shape is written, for the benchmark and the
/// test-support library.
package func withCleanup<T>(
  isolation: isolated (any Actor)? = #isolation,
  _ body: () async throws -> T,
  cleanup: () async -> Void
) async throws -> T {
  let result: T
  do {
    result = try await body()
  } catch {
    await cleanup()
    throw error
  }
  await cleanup()
  return result
}

/// Runs `body` with `resource`, then `release(resource)`, whether `body` returned or threw:
/// a server, a client or a directory that a `with…` function opened for its body.
package func withResource<Resource, T>(
  _ resource: Resource,
  isolation: isolated (any Actor)? = #isolation,
  _ body: (Resource) async throws -> T,
  release: (Resource) async -> Void
) async throws -> T {
  try await withCleanup {
    try await body(resource)
  } cleanup: {
    await release(resource)
  }
}
