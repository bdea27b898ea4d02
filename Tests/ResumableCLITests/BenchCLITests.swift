import ResumableTestSupport
import Testing

/// The `bench` subcommands refuse bad sizes and policies before they start a
/// server: a usage error (exit 2) that names the option and what it takes.
@Suite("bench: bad input")
struct BenchCLITests {
  @Test(arguments: [
    (["bench", "workers", "--runs", "0"], "--runs must be at least 1"),
    (["bench", "workers", "--warmup=-1"], "--warmup 0 or more"),
    (["bench", "workers", "--fsync", "no"], "--fsync must be always or everysec"),
    (["bench", "fan-out", "--runs", "1"], "--runs must be at least 2"),
    (["bench", "runs", "--get-state", "--callers", "x"], "--callers must be numbers from 1 to 1024"),
    (["bench", "runs", "--get-state", "--seconds", "0"], "--seconds must be above 0"),
  ])
  func aBadOptionIsAUsageErrorNamingIt(arguments: [String], message: String) async throws {
    let directory = try await TemporaryDirectory.create()
    defer { Task { await directory.remove() } }
    let result = try await ChildProcess.run(arguments, in: directory)
    #expect(result.status == 2, "\(arguments): \(result.stderr)")
    #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
  }
}
