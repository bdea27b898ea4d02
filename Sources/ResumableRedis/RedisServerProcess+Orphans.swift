import Foundation
import Logging
import NIOPosix
import ResumableSocket

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

extension RedisServerProcess {
  /// The `redis-server` processes running on `dataDirectory`, found through `/proc`: Redis
  /// changes its working directory to its `--dir`, so a process whose executable or name is
  /// `redis-server` and whose working directory is `dataDirectory` writes the append-only
  /// file there. Zombies are not counted; processes this user may not inspect are not seen.
  ///
  /// Blocking file reads: call from a thread pool.
  /// - Parameter dataDirectory: The data directory (any path that resolves to it).
  public static func processes(inDataDirectory dataDirectory: String) -> [Int32] {
    guard let directory = realpath(dataDirectory, nil) else { return [] }
    let resolved = String(cString: directory)
    free(directory)
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
      pid != getpid()
        && (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")) == resolved
        && isRedisServer(pid) && isAlive(pid)
    }.sorted()
  }

  /// Whether `pid` runs `redis-server` (by its executable's name or its own).
  private static func isRedisServer(_ pid: Int32) -> Bool {
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? ""
    let name = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
    return executable.split(separator: "/").last?.hasPrefix("redis-server") == true
      || name.hasPrefix("redis-server")
  }

  /// Whether `pid` exists and is not a zombie (an exited child its parent has not reaped).
  static func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let end = stat.lastIndex(of: ")")
    else { return false }
    let state = stat[stat.index(after: end)...].drop(while: { $0 == " " }).first
    return state != "Z" && state != "X"
  }

  /// Stops every `redis-server` an earlier owner left running on the data directory (one
  /// that outlived a crashed server): `SHUTDOWN` on the Redis socket (Redis flushes and
  /// fsyncs the append-only file, then exits); failing that SIGTERM, which Redis handles as
  /// `SHUTDOWN`, with SIGCONT in case it is stopped. One still running after the grace
  /// period is killed: with `appendfsync always` that loses nothing acknowledged either.
  ///
  /// Call with the data directory's lock held, so no live owner's Redis is among them.
  /// - Returns: The pids stopped.
  /// - Throws: `.dataDirectoryInUse` when a process outlives SIGKILL, or when something
  ///   this user cannot identify still listens on the Redis socket.
  func stopOrphans() async throws(RedisServerError) -> [Int32] {
    let configuration = self.configuration
    let orphans =
      (try? await NIOThreadPool.singleton.runIfActive {
        Self.processes(inDataDirectory: configuration.dataDirectory)
      }) ?? []
    if !orphans.isEmpty, await UnixSocketProbe.isListening(path: configuration.socketPath) {
      await shutDown(at: configuration.socketPath, within: configuration.stopGracePeriod)
    }
    var alive = await Self.waitUntilGone(orphans, timeout: configuration.stopGracePeriod)
    // Not on our socket, or it did not answer: the same shutdown by signal, then a kill.
    for signal in [SIGTERM, SIGKILL] where !alive.isEmpty {
      for pid in alive {
        _ = Glibc.kill(pid, signal)
        _ = Glibc.kill(pid, SIGCONT)
      }
      alive = await Self.waitUntilGone(alive, timeout: configuration.stopGracePeriod)
    }
    if let pid = alive.first {
      throw RedisServerError(
        code: .dataDirectoryInUse,
        message: "redis-server (pid \(pid)) left running on the data directory "
          + "\(configuration.dataDirectory) does not exit; stop it before starting another")
    }
    if await UnixSocketProbe.isListening(path: configuration.socketPath) {
      throw RedisServerError(
        code: .dataDirectoryInUse,
        message: "a process this user cannot identify listens on \(configuration.socketPath) "
          + "in the data directory \(configuration.dataDirectory); stop it before starting "
          + "another redis-server there")
    }
    return orphans
  }

  /// Sends `SHUTDOWN` to the Redis on `socketPath` and returns when it answers (a clean
  /// shutdown answers by closing the connection) or `timeout` has passed.
  private func shutDown(at socketPath: String, within timeout: Duration) async {
    let client = RedisClient(
      address: .unixDomainSocket(path: socketPath),
      configuration: .init(connections: 1, connectTimeout: .seconds(1)),
      logger: Logger(label: "resumable.redis.orphan", factory: { _ in SwiftLogNoOpLogHandler() }))
    await withTaskGroup(of: Void.self) { group in
      group.addTask { _ = try? await client.send(["SHUTDOWN"]) }
      group.addTask { try? await Task.sleep(for: timeout) }
      await group.next()
      // Fails the SHUTDOWN still waiting, if it is the one that did not finish.
      await client.close()
      group.cancelAll()
    }
  }

  /// Polls every 10 ms until none of `pids` is alive; the ones still alive after `timeout`.
  private static func waitUntilGone(_ pids: [Int32], timeout: Duration) async -> [Int32] {
    let deadline = ContinuousClock.now + timeout
    var alive = pids
    while true {
      alive = alive.filter(isAlive)
      if alive.isEmpty || ContinuousClock.now >= deadline { return alive }
      try? await Task.sleep(for: .milliseconds(10))
    }
  }
}
