public import Foundation

/// A program run by a test: the `resumable` executable as a server or a CLI call.
public final class ChildProcess: @unchecked Sendable {
  // @unchecked: `process` is configured before `run()` and afterwards only
  // read through Foundation's thread-safe accessors; the output files are
  // read after exit.
  /// The process, running or exited.
  public let process = Process()
  /// The file its standard output goes to.
  public let stdoutPath: String
  /// The file its standard error goes to.
  public let stderrPath: String
  private let exited: AsyncStream<Int32>
  private let exitSink: AsyncStream<Int32>.Continuation

  /// The built `resumable` executable, beside the test bundle (built by
  /// `swift build`, which `make test` runs first), or `$RESUMABLE_BINARY`.
  public static func resumableBinary() throws -> String {
    if let path = ProcessInfo.processInfo.environment["RESUMABLE_BINARY"] { return path }
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var directory = bundle.deletingLastPathComponent()
    for _ in 0..<4 {
      let candidate = directory.appendingPathComponent("resumable").path
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
      directory = directory.deletingLastPathComponent()
    }
    let proc = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    let beside = URL(fileURLWithPath: proc).deletingLastPathComponent().appendingPathComponent("resumable").path
    if FileManager.default.isExecutableFile(atPath: beside) { return beside }
    throw TestSupportError("the resumable executable was not found beside the tests; run `swift build` first (make test does)")
  }

  /// Starts `executable` (default: the `resumable` binary) with `arguments`.
  /// - Parameters:
  ///   - arguments: The command line, without the program.
  ///   - environment: Variables set on top of this process' environment (from which
  ///     `RESUMABLE_SOCKET` is removed).
  ///   - executable: The program; default: ``resumableBinary()``.
  ///   - directory: Where the output files go.
  public init(
    _ arguments: [String], environment: [String: String] = [:], executable: String? = nil,
    in directory: TemporaryDirectory
  ) throws {
    let id = UUID().uuidString.prefix(8)
    stdoutPath = directory.appending("out-\(id)")
    stderrPath = directory.appending("err-\(id)")
    _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
    _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
    process.executableURL = URL(fileURLWithPath: try executable ?? Self.resumableBinary())
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "RESUMABLE_SOCKET")
    for (key, value) in environment { env[key] = value }
    process.environment = env
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
    process.standardError = FileHandle(forWritingAtPath: stderrPath)
    (exited, exitSink) = AsyncStream.makeStream(of: Int32.self)
    let sink = exitSink
    process.terminationHandler = { process in
      sink.yield(process.terminationStatus)
      sink.finish()
    }
    try process.run()
  }

  /// Waits for the exit status.
  public func wait() async -> Int32 {
    for await status in exited { return status }
    return process.terminationStatus
  }

  /// Waits for the exit status at most `timeout`; past it, kills the process and returns nil.
  public func wait(timeout: Duration) async -> Int32? {
    let deadline = ContinuousClock.now + timeout
    while process.isRunning, ContinuousClock.now < deadline {
      try? await Task.sleep(for: .milliseconds(25))
    }
    guard process.isRunning else { return await wait() }
    signal(SIGKILL)
    _ = await wait()
    return nil
  }

  /// What it wrote to standard output so far.
  public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
  /// What it wrote to standard error so far.
  public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

  /// Sends `signal` to the process.
  public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

  /// Runs the CLI to completion.
  public static func run(
    _ arguments: [String], environment: [String: String] = [:], executable: String? = nil,
    in directory: TemporaryDirectory
  ) async throws -> (status: Int32, stdout: String, stderr: String) {
    let child = try ChildProcess(arguments, environment: environment, executable: executable, in: directory)
    let status = await child.wait()
    return (status, child.stdout, child.stderr)
  }
}
