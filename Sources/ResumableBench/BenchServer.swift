import Foundation
import ResumableClient
import ResumableCore
import ResumableRedis

/// A `resumable serve` child process on its embedded Redis, started and
/// stopped by the benchmark: the configuration a user gets by default
/// (Unix sockets, the append-only file on), in a temporary directory; or, with
/// a `--redis` URL, on a Redis the benchmark started itself (one on TCP, a cluster).
///
/// The benchmark reaches the embedded Redis directly, on its socket inside
/// the data directory, for the figures measured without the server.
final class BenchServer: @unchecked Sendable {
  // @unchecked: `process` is configured and started in `init` and afterwards
  // only signalled and read through Foundation's thread-safe accessors.
  private let process = Process()
  let socketPath: String
  /// The embedded Redis' socket (none is started when the server was given a `--redis` URL).
  let redisAddress: RedisAddress
  let directory: String
  let fsync: RedisServerProcess.Configuration.AppendFsync
  private let stderrPath: String

  /// Starts the server and waits until it accepts connections.
  /// - Parameters:
  ///   - executable: the `resumable` executable.
  ///   - directory: an empty directory for the socket, the data and the logs (short path).
  ///   - fsync: the embedded Redis' `appendfsync` (with `redis`: the one that Redis runs with).
  ///   - redis: a `--redis` URL; nil: the embedded Redis.
  ///   - workflows: the definitions file's text.
  ///   - maxRuns: the server's `--max-runs`.
  static func start(
    executable: String, directory: String, fsync: RedisServerProcess.Configuration.AppendFsync, redis: String? = nil,
    workflows: String = BenchWorkflows.yaml(), maxRuns: Int = 256
  ) async throws -> BenchServer {
    let server = try BenchServer(
      executable: executable, directory: directory, fsync: fsync, redis: redis, workflows: workflows, maxRuns: maxRuns)
    try await server.waitUntilReady()
    return server
  }

  /// Runs `body` with a server on `workflows` in a new directory under
  /// `temporaryDirectory`; stops the server and removes the directory after.
  static func with<T>(
    executable: String, temporaryDirectory: String, fsync: RedisServerProcess.Configuration.AppendFsync,
    workflows: String, progress: (String) -> Void, _ body: (BenchServer) async throws -> T
  ) async throws -> T {
    let directory = temporaryDirectory + "/rbench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    progress("starting a server (embedded Redis, appendfsync \(fsync.rawValue)) in \(directory)")
    return try await withResource(
      try await start(executable: executable, directory: directory, fsync: fsync, workflows: workflows), body
    ) { await $0.stop() }
  }

  private init(
    executable: String, directory: String, fsync: RedisServerProcess.Configuration.AppendFsync, redis: String?,
    workflows yaml: String, maxRuns: Int
  ) throws {
    self.directory = directory
    self.fsync = fsync
    socketPath = directory + "/s.sock"
    let dataDirectory = directory + "/data"
    redisAddress = .unixDomainSocket(path: dataDirectory + "/redis.sock")
    let workflows = directory + "/workflows.yaml"
    try yaml.write(toFile: workflows, atomically: true, encoding: .utf8)
    stderrPath = directory + "/server.err"
    _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
    process.executableURL = URL(fileURLWithPath: executable)
    let store = redis.map { ["--redis", $0] } ?? ["--data-dir", dataDirectory, "--redis-fsync", fsync.rawValue]
    process.arguments =
      ["serve", "--socket", socketPath, "--workflows", workflows] + store
      + ["--grace-seconds", "0", "--log-level", "warning", "--max-runs", String(maxRuns)]
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle(forWritingAtPath: stderrPath)
    try process.run()
  }

  var pid: Int32 { process.processIdentifier }

  /// The server's standard error so far (warnings and errors only).
  var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

  private func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
    let process = process
    if try await ResumableClient.waitForServer(socketPath: socketPath, timeout: timeout, isAlive: { process.isRunning }) {
      return
    }
    await stop()
    throw BenchError("resumable serve did not come up on \(socketPath): \(stderr)")
  }

  /// The server process' resident set size, in bytes (`VmRSS`).
  func residentBytes() -> Int? {
    Self.residentBytes(pid: pid)
  }

  static func residentBytes(pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
      let kilobytes = line.dropFirst("VmRSS:".count).split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) }
      return kilobytes.map { $0 * 1024 }
    }
    return nil
  }

  /// SIGTERM (graceful shutdown, which also stops the embedded Redis) and
  /// waits for the exit; SIGKILL after `patience`.
  func stop(patience: Duration = .seconds(20)) async {
    guard process.isRunning else { return }
    kill(pid, SIGTERM)
    let deadline = ContinuousClock.now + patience
    while process.isRunning && ContinuousClock.now < deadline {
      try? await Task.sleep(for: .milliseconds(20))
    }
    if process.isRunning {
      kill(pid, SIGKILL)
      while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }
  }
}

/// A benchmark that could not run, with the reason.
public struct BenchError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
