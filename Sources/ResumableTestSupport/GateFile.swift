import Foundation
import Testing

/// Runs `body` with a test Redis, a temporary directory and the path of a gate file in it
/// (created unless `created` is false) for ``gatedYAML(gate:)``.
public func withGate(
  created: Bool = true, _ body: (TestRedis, TemporaryDirectory, String) async throws -> Void
) async throws {
  try await withTestRedis { redis in
    let directory = try await TemporaryDirectory.create()
    defer { Task { await directory.remove() } }
    let gate = directory.appending("gate")
    if created { #expect(FileManager.default.createFile(atPath: gate, contents: nil)) }
    try await body(redis, directory, gate)
  }
}
