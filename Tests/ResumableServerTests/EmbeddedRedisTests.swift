import Foundation
import ResumableTestSupport
import Testing

@testable import ResumableRedis

/// Issue 12, item 3, with `resumable serve` as a process on its embedded Redis: the Redis
/// dies with its server however the server dies, one data directory never has two Redis
/// servers, and a Redis left running by an earlier server is stopped cleanly, its data kept.
@Suite("Embedded Redis, end to end")
struct EmbeddedRedisTests {
  static let yaml = "workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo, inputs: [input]}\n"

  /// The arguments of a server on the embedded Redis in `dataDir`.
  static func arguments(dataDir: String, in directory: TemporaryDirectory) throws -> [String] {
    let definitions = directory.appending("w.yaml")
    try yaml.write(toFile: definitions, atomically: true, encoding: .utf8)
    return ["--workflows", definitions, "--data-dir", dataDir]
  }

  /// Runs `body` with a temporary directory, a data directory inside it and the arguments of
  /// a server on it; afterwards no `redis-server` may be left on the data directory (one that
  /// is, is killed).
  static func withDataDirectory(
    _ body: (_ dataDir: String, _ arguments: [String], _ directory: TemporaryDirectory) async throws -> Void
  ) async throws {
    try await withTemporaryDirectory { directory in
      let dataDir = directory.appending("data")
      do {
        try await body(dataDir, try Self.arguments(dataDir: dataDir, in: directory), directory)
      } catch {
        Self.killLeftovers(on: dataDir)
        throw error
      }
      #expect(Self.killLeftovers(on: dataDir).isEmpty, "a redis-server outlived its server")
    }
  }

  /// Kills every `redis-server` still on `dataDir` and returns their pids.
  @discardableResult
  static func killLeftovers(on dataDir: String) -> [Int32] {
    let pids = RedisServerProcess.processes(inDataDirectory: dataDir)
    for pid in pids { kill(pid, SIGKILL) }
    return pids
  }

  /// The `redis-server` processes on `dataDir`, once there are `count` of them.
  static func redisServers(on dataDir: String, count: Int) async throws -> [Int32] {
    try await eventually(timeout: .seconds(15)) {
      let pids = RedisServerProcess.processes(inDataDirectory: dataDir)
      guard pids.count == count else {
        throw TestSupportError("\(pids.count) redis-server on \(dataDir) (\(pids)), not \(count)")
      }
      return pids
    }
  }

  /// Starts run `id` and waits for it to complete.
  static func startRun(_ id: String, socket: String, in directory: TemporaryDirectory) async throws {
    let started = try await ChildProcess.run(["start", "w", "--id", id, "--input", "[1]", "--socket", socket], in: directory)
    #expect(started.status == 0, "\(started.stdout) \(started.stderr)")
  }

  /// Expects run `id` to be COMPLETED.
  static func expectCompleted(_ id: String, socket: String, in directory: TemporaryDirectory) async throws {
    let state = try await ChildProcess.run(["state", id, "--json", "--socket", socket], in: directory)
    #expect(state.status == 0, "\(state.stdout) \(state.stderr)")
    #expect(state.stdout.contains("\"COMPLETED\""), "\(state.stdout)")
  }

  @Test func aSIGKILLedServersRedisExitsAndItsRunsSurviveARestart() async throws {
    try await Self.withDataDirectory { dataDir, arguments, directory in
      let server = try await ServeProcess.start(arguments, in: directory)
      try await Self.startRun("before-kill", socket: server.socket, in: directory)
      let redis = try #require(try await Self.redisServers(on: dataDir, count: 1).first)
      await server.kill()
      // The kernel tells the orphan (PR_SET_PDEATHSIG): it shuts down by itself.
      _ = try await Self.redisServers(on: dataDir, count: 0)
      #expect(!RedisServerProcess.isAlive(redis))
      try await server.restart()
      try await Self.expectCompleted("before-kill", socket: server.socket, in: directory)
      #expect(await server.stop() == 0, "\(server.stderr)")
    }
  }

  @Test func aSecondServerOnTheSameDataDirectoryFailsAtOnce() async throws {
    try await Self.withDataDirectory { dataDir, arguments, directory in
      let first = try await ServeProcess.start(arguments, in: directory)
      let second = try ChildProcess(["serve", "--socket", directory.appending("second.sock")] + arguments, in: directory)
      let status = await second.wait(timeout: .seconds(20))
      #expect(status != nil && status != 0, "the second server did not fail: \(second.stderr)")
      #expect(second.stderr.contains("the data directory \(dataDir) is in use by process \(first.pid)"), "\(second.stderr)")
      #expect(try await Self.redisServers(on: dataDir, count: 1).count == 1)
      // The first one is untouched.
      try await Self.startRun("still-served", socket: first.socket, in: directory)
      #expect(await first.stop() == 0, "\(first.stderr)")
    }
  }

  @Test func aRedisLeftRunningOnTheDataDirectoryIsStoppedCleanlyAndItsDataKept() async throws {
    try await Self.withDataDirectory { dataDir, arguments, directory in
      let first = try await ServeProcess.start(arguments, in: directory)
      try await Self.startRun("committed", socket: first.socket, in: directory)
      #expect(await first.stop() == 0, "\(first.stderr)")

      // A redis-server on the directory, as a server would start it, but with no server
      // owning it (no lock) and no death signal: the orphan an older version left behind.
      let configuration = RedisServerProcess.Configuration(dataDirectory: dataDir, appendFsync: .everysec)
      let orphan = try ChildProcess(
        RedisServerProcess.arguments(configuration), executable: try RedisServerProcess.findExecutable(nil),
        in: directory)
      let address = RedisAddress.unixDomainSocket(path: configuration.socketPath)
      let client = RedisClient(address: address)
      try await eventually(timeout: .seconds(10)) {
        let reply = try await client.send(["SET", "written-by-hand", "kept"])
        guard reply == .simpleString("OK") else { throw TestSupportError("SET answered \(reply)") }
      }
      await client.close()

      let second = try await ServeProcess.start(arguments, name: "second", in: directory)
      // Exit status 0: Redis shut down as on SHUTDOWN (AOF flushed), it was not killed.
      let status = await orphan.wait(timeout: .seconds(20))
      #expect(status == 0 && orphan.process.terminationReason == .exit, "the orphan was not shut down cleanly: \(status.map(String.init) ?? "still running")")
      #expect(try await Self.redisServers(on: dataDir, count: 1).count == 1)
      try await Self.expectCompleted("committed", socket: second.socket, in: directory)
      let reader = RedisClient(address: address)
      #expect(try await reader.send(["GET", "written-by-hand"]) == .bulkString(Array("kept".utf8)))
      await reader.close()
      #expect(await second.stop() == 0, "\(second.stderr)")
    }
  }
}
