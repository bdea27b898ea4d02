import Foundation
public import ResumableClient
import Synchronization

/// A `resumable serve` process for end-to-end and fault tests: started,
/// signalled (`SIGKILL`, `SIGSTOP`, `SIGTERM`) and started again on the same
/// socket and arguments, as an operator or a crash would.
public final class ServeProcess: Sendable {
  /// The socket it listens on.
  public let socket: String
  /// Its command line, `serve` first: each incarnation's.
  public let arguments: [String]
  /// The variables set on top of the test's environment.
  public let environment: [String: String]
  /// Where its socket and output files are.
  public let directory: TemporaryDirectory
  private let current: Mutex<ChildProcess>
  /// The standard error of earlier incarnations (each one's own file).
  private let earlier = Mutex<[ChildProcess]>([])

  /// Starts `resumable serve --socket <dir>/<name>.sock <arguments>` and waits until it accepts connections.
  public static func start(
    _ arguments: [String], name: String = "serve", logLevel: String = "notice", environment: [String: String] = [:],
    in directory: TemporaryDirectory
  ) async throws -> ServeProcess {
    let socket = directory.appending("\(name).sock")
    let full = ["serve", "--socket", socket, "--log-level", logLevel] + arguments
    let process = ServeProcess(
      socket: socket, arguments: full, environment: environment, directory: directory,
      child: try ChildProcess(full, environment: environment, in: directory))
    try await process.waitUntilReady()
    return process
  }

  /// The arguments that point a server at `redis` with a definitions file written from `yaml`.
  public static func arguments(redis: TestRedis, yaml: String, keyPrefix: String, in directory: TemporaryDirectory) throws -> [String] {
    let definitions = directory.appending("workflows-\(UUID().uuidString.prefix(8)).yaml")
    try yaml.write(toFile: definitions, atomically: true, encoding: .utf8)
    return [
      "--redis", "unix://\(redis.server.configuration.socketPath)", "--workflows", definitions, "--key-prefix", keyPrefix,
    ]
  }

  private init(
    socket: String, arguments: [String], environment: [String: String], directory: TemporaryDirectory,
    child: ChildProcess
  ) {
    self.socket = socket
    self.arguments = arguments
    self.environment = environment
    self.directory = directory
    self.current = Mutex(child)
  }

  /// The current incarnation.
  public var child: ChildProcess { current.withLock { $0 } }
  /// The current incarnation's process id.
  public var pid: Int32 { child.process.processIdentifier }
  /// Whether the current incarnation is running.
  public var isRunning: Bool { child.process.isRunning }

  /// Every incarnation's standard error, oldest first.
  public var stderr: String { (earlier.withLock { $0 } + [child]).map(\.stderr).joined(separator: "\n") }

  /// Waits until a client can connect; past `timeout` (or when the process exits first),
  /// kills it and throws with its standard error.
  public func waitUntilReady(timeout: Duration = .seconds(20)) async throws {
    if try await ResumableClient.waitForServer(socketPath: socket, timeout: timeout, isAlive: { isRunning }) { return }
    child.signal(SIGKILL)
    _ = await child.wait()
    throw TestSupportError("resumable serve did not come up on \(socket): \(stderr)")
  }

  /// Sends `signal` to the current incarnation.
  public func signal(_ signal: Int32) { child.signal(signal) }

  /// `SIGKILL`, as a crash: returns once the process is gone.
  public func kill() async {
    child.signal(SIGKILL)
    _ = await child.wait()
  }

  /// `SIGTERM` (graceful shutdown) and the exit status.
  public func stop() async -> Int32 {
    child.signal(SIGTERM)
    return await child.wait()
  }

  /// Starts the server again with the same arguments (after `kill` or `stop`).
  public func restart() async throws {
    let next = try ChildProcess(arguments, environment: environment, in: directory)
    let previous = current.withLock { current in
      defer { current = next }
      return current
    }
    earlier.withLock { $0.append(previous) }
    try await waitUntilReady()
  }

  /// A connected client; closed when `body` returns.
  public func withClient<T>(_ body: (ResumableClient) async throws -> T) async throws -> T {
    try await withConnectedClient(socketPath: socket, body)
  }
}
