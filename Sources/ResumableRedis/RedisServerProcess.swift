import Foundation
import Logging
import NIOPosix
import Synchronization

internal import CResumableSocket

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A private `redis-server` child process on a Unix socket, with the append-only file on.
///
/// Used by `resumable serve` when no `--redis` URL is given, and by tests. The server
/// listens on no TCP port (`--port 0`), only on ``Configuration/socketPath`` (mode 0700),
/// keeps its data and log (`redis.log`) in ``Configuration/dataDirectory``, and does not
/// write RDB snapshots: durability comes from the AOF with the configured fsync policy.
///
/// The process can be started again after ``stop()`` or ``kill()`` on the same data
/// directory and socket; Redis then reloads the AOF.
///
/// - Important: The child is spawned in its own process group, so a terminal's Ctrl-C goes
///   to the parent only, which should call ``stop()``. A dedicated thread per child starts it
///   and waits for its exit (no zombies, no blocking of the Swift concurrency pool). The
///   child dies with its parent, and one data directory never has two servers: see
///   ``start()``.
public final class RedisServerProcess: Sendable {
  /// How the server is run.
  public struct Configuration: Sendable, Hashable {
    /// Redis' `appendfsync` policy: when the AOF is flushed to disk.
    public enum AppendFsync: String, Sendable, Hashable, CaseIterable {
      /// After every write command: slowest, loses nothing on a crash.
      case always
      /// Once per second: loses at most about a second of writes on a power loss.
      case everysec
      /// When the OS decides.
      case no
    }

    /// Where the AOF and the logs live; created (mode 0700) if missing.
    public var dataDirectory: String
    /// The Unix socket path (at most 107 bytes); by default `<dataDirectory>/redis.sock`.
    public var socketPath: String
    /// The AOF fsync policy.
    public var appendFsync: AppendFsync
    /// More `redis-server` arguments, e.g. `["--requirepass", "secret"]`.
    public var extraArguments: [String]
    /// The executable; `nil` finds `redis-server` on `PATH`.
    public var executable: String?
    /// How long `start()` waits for the server to answer `PING`.
    public var readinessTimeout: Duration
    /// How long `stop()` waits after SIGTERM before sending SIGKILL.
    public var stopGracePeriod: Duration

    /// Creates a configuration.
    public init(
      dataDirectory: String,
      socketPath: String? = nil,
      appendFsync: AppendFsync = .everysec,
      extraArguments: [String] = [],
      executable: String? = nil,
      readinessTimeout: Duration = .seconds(10),
      stopGracePeriod: Duration = .seconds(5)
    ) {
      self.dataDirectory = dataDirectory
      self.socketPath = socketPath ?? dataDirectory + "/redis.sock"
      self.appendFsync = appendFsync
      self.extraArguments = extraArguments
      self.executable = executable
      self.readinessTimeout = readinessTimeout
      self.stopGracePeriod = stopGracePeriod
    }

    /// Redis' own log file.
    public var logFile: String { dataDirectory + "/redis.log" }
    /// Where the process' stdout and stderr go (start-up errors before the log is open).
    public var outputFile: String { dataDirectory + "/redis-server.out" }
  }

  /// The configuration the server runs with.
  public let configuration: Configuration
  private let child = Mutex<ChildProcess?>(nil)
  /// Held from ``start()`` until ``stop()`` returns (or this object is gone).
  private let lock = Mutex<DataDirectoryLock?>(nil)
  private let orphansStopped = Mutex<[Int32]>([])

  /// Prepares a server; nothing runs until ``start()``.
  public init(configuration: Configuration) {
    self.configuration = configuration
  }

  /// A server dropped while running is sent SIGTERM (without waiting), so it does not
  /// outlive its owner; call ``stop()`` to wait for it.
  deinit {
    child.withLock { $0?.signal(SIGTERM) }
  }

  /// Creates and starts a server.
  public static func start(configuration: Configuration) async throws(RedisServerError)
    -> RedisServerProcess
  {
    let server = RedisServerProcess(configuration: configuration)
    try await server.start()
    return server
  }

  /// The address clients use: the Unix socket, database 0.
  public var address: RedisAddress { .unixDomainSocket(path: configuration.socketPath) }

  /// The process id while it runs; `nil` before start and after it exited.
  public var pid: Int32? {
    child.withLock { child in child.flatMap { $0.hasExited ? nil : $0.pid } }
  }

  /// The pids of the `redis-server` processes the last ``start()`` found running on the data
  /// directory, left by an owner that died, and stopped before starting its own.
  public var stoppedOrphans: [Int32] { orphansStopped.withLock { $0 } }

  /// Starts the process and waits until it answers `PING` on its socket.
  ///
  /// First it takes the data directory's lock (`resumable.lock`, holding this process'
  /// pid), so no two owners ever run a Redis on one directory, and stops any `redis-server`
  /// an earlier owner left running there (see ``stoppedOrphans``), so its append-only file
  /// is flushed and closed before the new one opens it. The child is sent SIGTERM by the
  /// kernel if this process dies, however it dies (`PR_SET_PDEATHSIG`).
  ///
  /// - Throws: `RedisServerError`: `notInstalled` (with what to do), `invalidConfiguration`,
  ///   `dataDirectoryInUse` (naming the pid holding it), `spawnFailed`, or `notReady` with the
  ///   tail of Redis' log.
  public func start() async throws(RedisServerError) {
    if let pid {
      throw RedisServerError(
        code: .alreadyRunning, message: "redis-server is already running (pid \(pid))")
    }
    let configuration = self.configuration
    guard configuration.socketPath.utf8.count <= RedisAddress.maximumUnixSocketPathLength else {
      throw RedisServerError(
        code: .invalidConfiguration,
        message:
          "the socket path \(configuration.socketPath) is "
          + "\(configuration.socketPath.utf8.count) bytes; "
          + "the OS allows at most \(RedisAddress.maximumUnixSocketPathLength)")
    }
    let executable = try Self.findExecutable(configuration.executable)
    try await lockDataDirectory()
    let started: ChildProcess
    do {
      orphansStopped.withLock { $0 = [] }
      let orphans = try await stopOrphans()
      orphansStopped.withLock { $0 = orphans }
      started = try await ChildProcess.spawn(
        executable: executable, arguments: Self.arguments(configuration), configuration: configuration)
    } catch {
      lock.withLock { $0 = nil }
      throw error
    }
    child.withLock { $0 = started }
    try await waitUntilReady(started, executable: executable)
  }

  /// Stops the server gracefully: SIGTERM (Redis flushes the AOF), then SIGKILL if it has
  /// not exited after ``Configuration/stopGracePeriod``. Returns once the process is gone.
  /// Releases the data directory's lock once the process is gone.
  public func stop() async {
    defer { lock.withLock { $0 = nil } }
    guard let child = child.withLock({ $0 }) else { return }
    child.signal(SIGTERM)
    if await !child.waitForExit(timeout: configuration.stopGracePeriod) {
      child.signal(SIGKILL)
      _ = await child.waitForExit(timeout: nil)
    }
  }

  /// Kills the server with SIGKILL, as a crash would, and returns once it is gone. For
  /// fault tests: whatever the AOF policy had not flushed is lost. The data directory stays
  /// locked, for a ``start()`` again.
  public func kill() async {
    guard let child = child.withLock({ $0 }) else { return }
    child.signal(SIGKILL)
    _ = await child.waitForExit(timeout: nil)
  }

  /// Takes the data directory's lock unless this object holds it already (after ``kill()``).
  private func lockDataDirectory() async throws(RedisServerError) {
    guard lock.withLock({ $0 == nil }) else { return }
    let directory = configuration.dataDirectory
    let taken: DataDirectoryLock
    do {
      // mkdir, open and flock are blocking syscalls: keep them off the cooperative pool.
      taken = try await NIOThreadPool.singleton.runIfActive { try DataDirectoryLock.acquire(directory: directory) }
    } catch let error as RedisServerError {
      throw error
    } catch {
      throw RedisServerError(code: .spawnFailed, message: "cannot lock the data directory \(directory): \(error)")
    }
    lock.withLock { $0 = taken }
  }

  static func arguments(_ configuration: Configuration) -> [String] {
    [
      "--port", "0",
      "--unixsocket", configuration.socketPath,
      "--unixsocketperm", "700",
      "--dir", configuration.dataDirectory,
      "--appendonly", "yes",
      "--appendfsync", configuration.appendFsync.rawValue,
      "--save", "",
      "--daemonize", "no",
      "--logfile", configuration.logFile,
      // Every key of a run has a TTL, so a volatile-* (or allkeys-*) policy could evict
      // one key of a run alone (a lease, an artifact): refuse writes when full instead.
      "--maxmemory-policy", "noeviction",
    ] + configuration.extraArguments
  }

  /// The path of `name` (`redis-server`, or `redis-cli`): `configured` when given, else the
  /// first on `searchPath` (default: `$PATH`).
  ///
  /// - Throws: `notInstalled`, saying which Debian package installs it.
  public static func findExecutable(
    _ configured: String?, named name: String = "redis-server", searchPath: String? = nil
  ) throws(RedisServerError) -> String {
    if let configured {
      guard access(configured, X_OK) == 0 else {
        throw RedisServerError(
          code: .notInstalled, message: "\(configured) is not an executable file")
      }
      return configured
    }
    let path = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") where !directory.isEmpty {
      let candidate = "\(directory)/\(name)"
      if access(candidate, X_OK) == 0 { return candidate }
    }
    let package = name == "redis-server" ? "redis-server" : "redis-tools"
    throw RedisServerError(
      code: .notInstalled,
      message:
        "\(name) was not found on PATH (\(path)). "
        + "Install it with `apt-get install \(package)`, "
        + "or use a Redis that is already running.")
  }

  private func waitUntilReady(_ child: ChildProcess, executable: String)
    async throws(RedisServerError)
  {
    // Refused connects are expected while the server starts: keep them out of the log.
    let client = RedisClient(
      address: address,
      configuration: .init(
        connectTimeout: .seconds(1),
        reconnectBackoff: .init(initial: .milliseconds(5), maximum: .milliseconds(50))),
      logger: Logger(label: "resumable.redis.readiness", factory: { _ in SwiftLogNoOpLogHandler() })
    )
    let problem = await Self.pingUntilReady(
      client, child: child, timeout: configuration.readinessTimeout)
    await client.close()
    guard let problem else { return }
    if child.hasExited {
      throw RedisServerError(
        code: .notReady,
        message:
          "\(executable) exited during start-up (\(child.exitDescription)).\(await logTail())")
    }
    await stop()
    throw RedisServerError(
      code: .notReady,
      message: "\(executable) did not answer PING on \(configuration.socketPath) within "
        + "\(configuration.readinessTimeout) (\(problem)); it was stopped.\(await logTail())")
  }

  /// `nil` once the server answers PONG; otherwise the last problem seen, when the child
  /// exited or `timeout` passed.
  private static func pingUntilReady(_ client: RedisClient, child: ChildProcess, timeout: Duration)
    async -> String?
  {
    let deadline = ContinuousClock.now + timeout
    var problem = "no answer yet"
    while ContinuousClock.now < deadline, !child.hasExited {
      do {
        let reply = try await client.send(["PING"])
        // NOAUTH: a password is configured (`--requirepass`), but the server is serving.
        if reply == .simpleString("PONG") || reply.errorMessage?.hasPrefix("NOAUTH") == true {
          return nil
        }
        problem = "PING answered \(reply)"  // e.g. LOADING while the AOF is read
      } catch {
        problem = error.message
      }
      try? await Task.sleep(for: .milliseconds(10))
    }
    return problem
  }

  /// The last lines of Redis' log and of its stdout/stderr, for error messages.
  private func logTail(lines: Int = 20) async -> String {
    let files = [configuration.logFile, configuration.outputFile]
    let text = try? await NIOThreadPool.singleton.runIfActive { () -> String in
      files.compactMap { file -> String? in
        guard let data = FileManager.default.contents(atPath: file), !data.isEmpty else {
          return nil
        }
        let tail = String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(lines)
        return "\n--- last lines of \(file):\n" + tail.joined(separator: "\n")
      }.joined()
    }
    return text ?? ""
  }
}

/// One spawned child and its exit status, reaped by the thread that started it.
final class ChildProcess: Sendable {
  let pid: pid_t
  private let status = Mutex<Int32?>(nil)

  private init(pid: pid_t) { self.pid = pid }

  /// Starts `executable` on a thread of its own that then waits for it: in its own process
  /// group, stdin from /dev/null, stdout and stderr appended to the output file, no other
  /// descriptor inherited, and sent SIGTERM by the kernel when its parent dies
  /// (`PR_SET_PDEATHSIG`; Redis shuts down cleanly on SIGTERM, flushing the AOF).
  ///
  /// The kernel sends the death signal when the thread that forked exits, not the
  /// process; the thread that forks here is the one that waits for the child, so it lives
  /// exactly as long as the child (or until the whole process dies, which is the point).
  static func spawn(
    executable: String, arguments: [String], configuration: RedisServerProcess.Configuration
  ) async throws(RedisServerError) -> ChildProcess {
    let outputFile = configuration.outputFile
    let launched = await withCheckedContinuation { (continuation: CheckedContinuation<Result<ChildProcess, RedisServerError>, Never>) in
      Thread.detachNewThread {
        let result = launch(executable: executable, arguments: arguments, outputFile: outputFile)
        continuation.resume(returning: result)
        // The only blocking wait: on this thread, for the lifetime of the child.
        if case .success(let child) = result { child.reap() }
      }
    }
    return try launched.get()
  }

  /// Forks and execs through `c_resumable_launch` (blocking: call from the child's own thread).
  private static func launch(executable: String, arguments: [String], outputFile: String)
    -> Result<ChildProcess, RedisServerError>
  {
    let argv = ([executable] + arguments).map { strdup($0) }
    defer { argv.forEach { free($0) } }
    var errorNumber: Int32 = 0
    var failedStep: UnsafePointer<CChar>?
    let pid = (argv + [nil]).withUnsafeBufferPointer { argv in
      c_resumable_launch(executable, argv.baseAddress, environ, outputFile, SIGTERM, &errorNumber, &failedStep)
    }
    guard pid > 0 else {
      let step = failedStep.map { String(cString: $0) } ?? "launch"
      return .failure(
        RedisServerError(
          code: .spawnFailed,
          message: "cannot start \(executable): \(step) failed: \(String(cString: strerror(errorNumber)))"))
    }
    return .success(ChildProcess(pid: pid))
  }

  /// Waits for the child to exit, then records its status and reaps it under the lock that
  /// `signal` takes, so a signal can never reach a reused pid.
  private func reap() {
    var info = siginfo_t()
    while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
    status.withLock { status in
      var exit: Int32 = 0
      while waitpid(pid, &exit, 0) == -1 && errno == EINTR {}
      status = exit
    }
  }

  var hasExited: Bool { status.withLock { $0 != nil } }

  /// "exit status N" or "killed by signal N".
  var exitDescription: String {
    guard let status = status.withLock({ $0 }) else { return "still running" }
    let signal = status & 0x7F
    return signal == 0 ? "exit status \((status >> 8) & 0xFF)" : "killed by signal \(signal)"
  }

  func signal(_ signal: Int32) {
    // Never signal a reaped pid: it may already belong to another process.
    status.withLock { status in
      if status == nil { _ = Glibc.kill(pid, signal) }
    }
  }

  /// Waits (polling every 10 ms, without blocking a thread) until the child has been
  /// reaped; `false` if `timeout` passed first.
  func waitForExit(timeout: Duration?) async -> Bool {
    let deadline = timeout.map { ContinuousClock.now + $0 }
    while !hasExited {
      if let deadline, ContinuousClock.now >= deadline { return false }
      try? await Task.sleep(for: .milliseconds(10))
    }
    return true
  }
}
