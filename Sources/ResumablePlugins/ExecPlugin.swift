import Foundation
public import ResumableCore
import Subprocess
import Synchronization

#if canImport(System)
  import System
#else
  import SystemPackage
#endif

/// `exec`: runs a program for each attempt — any language, no shell.
///
/// Configuration:
/// - `command` (required): the argv list, e.g. `["/usr/bin/python3", "summarize.py"]`; a
///   first element without `/` is looked up on the server's `PATH`;
/// - `env`: variables to set, `{NAME: value}`; `pass_env`: names of the server's own
///   variables to pass on. Nothing else is passed (but `PATH`): never the server's secrets
///   unless named;
/// - `working_directory`: where it runs (default: the server's);
/// - `params`: any JSON, handed to the program as `config`;
/// - `max_stdout_bytes` (default 1 MiB), `max_stderr_bytes` (default 4096: the tail kept
///   for the error message).
///
/// The program reads the step's JSON document (`StepRequest`) on standard input and writes
/// its artifact as JSON on standard output, optionally with a `resumable_usage` member
/// (tokens, `cost_usd`) that is taken out of the artifact. Exit status 0 is success; 75
/// (`EX_TEMPFAIL`) a retryable failure; any other a non-retryable one. The program runs in
/// a process group of its own: a step timeout or a shutdown kills the whole group.
public struct ExecPlugin: StepPlugin {
  public static let name = "exec"

  public init() {}

  struct Settings: PluginSettings {
    var command: [String] = []
    var environment: [String: String] = [:]
    var passEnvironment: [String] = []
    var workingDirectory: String?
    var params = JSONValue.null
    var maximumStdoutBytes = 1 << 20
    var maximumStderrBytes = 4096

    init(_ config: JSONValue) throws(PluginConfigError) {
      let members = try config.configMembers(otherwise: "exec's config must be a mapping with at least 'command'")
      for (key, value) in members {
        switch key {
        case "command":
          guard let items = value.arrayValue, !items.isEmpty,
            case let strings = items.compactMap(\.stringValue), strings.count == items.count, !strings[0].isEmpty
          else {
            throw PluginConfigError("'command' must be a non-empty list of strings (the argv; no shell)")
          }
          command = strings
        case "env":
          guard let object = value.objectValue else { throw PluginConfigError("'env' must be a mapping of NAME: value") }
          for (name, item) in object {
            guard Self.isVariableName(name), let text = item.stringValue else {
              throw PluginConfigError("'env': '\(name)' must be a variable name with a string value")
            }
            environment[name] = text
          }
        case "pass_env":
          guard let items = value.arrayValue, case let names = items.compactMap(\.stringValue),
            names.count == items.count, names.allSatisfy(Self.isVariableName)
          else {
            throw PluginConfigError("'pass_env' must be a list of variable names")
          }
          passEnvironment = names
        case "working_directory":
          workingDirectory = try value.nonEmptyText(key, "a path")
        case "params":
          params = value
        case "max_stdout_bytes":
          maximumStdoutBytes = try Self.size(value, key)
        case "max_stderr_bytes":
          maximumStderrBytes = try Self.size(value, key)
        default:
          throw .unknownKey(
            key, allowed: ["command", "env", "max_stderr_bytes", "max_stdout_bytes", "params", "pass_env", "working_directory"])
        }
      }
      guard !command.isEmpty else { throw PluginConfigError("exec needs 'command' (the argv list to run)") }
    }

    static func isVariableName(_ name: String) -> Bool {
      guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && CharacterSet.letters.contains(first)) else {
        return false
      }
      return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
    }

    static func size(_ value: JSONValue, _ key: String) throws(PluginConfigError) -> Int {
      guard let number = value.numberValue, number >= 1, number.rounded() == number, number <= 1_073_741_824 else {
        throw PluginConfigError("'\(key)' must be a whole number of bytes from 1 to 1073741824")
      }
      return Int(number)
    }

    /// The child's whole environment: `PATH`, the passed variables, the set ones.
    func childEnvironment(from server: [String: String]) -> [String: String] {
      var child = ["PATH": server["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"]
      for name in passEnvironment { child[name] = server[name] }
      for (name, value) in environment { child[name] = value }
      return child
    }
  }

  public func validate(config: JSONValue) throws(PluginConfigError) {
    _ = try Settings(config)
  }

  /// `EX_TEMPFAIL`: the program says a retry can help.
  public static let retryableExitStatus: Int32 = 75

  /// Writing to a program that exited without reading its input must be an error the
  /// writer sees (EPIPE), not a signal that ends the whole server: SIGPIPE is ignored once,
  /// process-wide, before the first program runs.
  private static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

  public func execute(_ context: StepContext) async throws -> StepOutput {
    Self.ignoreBrokenPipes
    let settings = try Settings.of(context, plugin: Self.name)
    let program = settings.command[0]
    let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
    var environment: [Environment.Key: String] = [:]
    for (name, value) in settings.childEnvironment(from: ProcessInfo.processInfo.environment) {
      environment[Environment.Key(stringLiteral: name)] = value
    }
    var options = PlatformOptions()
    options.processGroupID = 0  // A group of its own, led by the program: killed as one.
    let document = StepRequest.document(for: context, params: settings.params)
    let stdout = BoundedBuffer(limit: settings.maximumStdoutBytes, keep: .head)
    let stderr = BoundedBuffer(limit: settings.maximumStderrBytes, keep: .tail)
    let describe = settings.command.joined(separator: " ")

    var launched: ExecutionResult<Void, SequenceOutput, SequenceOutput>?
    // ETXTBSY: the program file is still open for writing somewhere (it was just written,
    // or another thread's fork holds its descriptor until that child execs): brief retries.
    for retry in 0..<5 where launched == nil {
      do {
        launched = try await run(
          executable, arguments: Arguments(Array(settings.command.dropFirst())),
          environment: .custom(environment),
          workingDirectory: settings.workingDirectory.map { FilePath($0) },
          platformOptions: options, input: .inputWriter, output: .sequence, error: .sequence
        ) { execution in
          let group = execution.processIdentifier.value
          try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
              tasks.addTask {
                // A program that exits without reading its input is not an error.
                _ = try? await execution.standardInputWriter.write(document)
                try? await execution.standardInputWriter.finish()
              }
              tasks.addTask {
                for try await chunk in execution.standardOutput {
                  chunk.withUnsafeBytes { stdout.append($0) }
                  if stdout.overflowed { kill(-group, SIGKILL) }
                }
              }
              tasks.addTask {
                for try await chunk in execution.standardError {
                  chunk.withUnsafeBytes { stderr.append($0) }
                }
              }
              try await tasks.waitForAll()
            }
          } onCancel: {
            kill(-group, SIGKILL)
          }
        }
      } catch let error as SubprocessError where error.underlyingError == .textFileBusy && retry < 4 {
        try await Task.sleep(for: .milliseconds(10 << retry))
      } catch let error as SubprocessError {
        throw StepFailure("exec: cannot run '\(describe)': \(error)", retryable: false)
      }
    }
    guard let result = launched else { throw StepFailure("exec: cannot run '\(describe)'", retryable: false) }
    try Task.checkCancellation()
    let errorTail = stderr.text
    func failure(_ what: String, retryable: Bool) -> StepFailure {
      StepFailure(
        "exec '\(describe)' \(what)" + (errorTail.isEmpty ? "" : "; stderr: \(errorTail)"), retryable: retryable)
    }
    if stdout.overflowed {
      throw failure("wrote more than \(settings.maximumStdoutBytes) bytes to stdout (max_stdout_bytes)", retryable: false)
    }
    switch result.terminationStatus {
    case .exited(0):
      return try StepRequest.output(from: stdout.bytes, source: "exec '\(describe)'")
    case .exited(let code) where code == Self.retryableExitStatus:
      throw failure("exited with status 75 (temporary failure)", retryable: true)
    case .exited(let code):
      throw failure("exited with status \(code)", retryable: false)
    case .signaled(let signal):
      // Killed from outside (the OOM killer, an operator): worth another attempt.
      throw failure("was killed by signal \(signal)", retryable: true)
    }
  }
}

/// Bytes collected from a pipe, at most `limit`: the first ones (stdout) or the last ones
/// (stderr). Appended to by one task; read after it ends.
final class BoundedBuffer: Sendable {
  enum Keep { case head, tail }
  private let storage = Mutex<(bytes: [UInt8], overflowed: Bool)>(([], false))
  let limit: Int
  let keep: Keep

  init(limit: Int, keep: Keep) {
    self.limit = limit
    self.keep = keep
  }

  func append(_ chunk: UnsafeRawBufferPointer) {
    storage.withLock { state in
      switch keep {
      case .head:
        let room = limit - state.bytes.count
        if chunk.count > room { state.overflowed = true }
        state.bytes.append(contentsOf: chunk.prefix(max(0, room)))
      case .tail:
        state.bytes.append(contentsOf: chunk)
        if state.bytes.count > limit {
          state.bytes.removeFirst(state.bytes.count - limit)
          state.overflowed = true
        }
      }
    }
  }

  var bytes: [UInt8] { storage.withLock { $0.bytes } }
  var overflowed: Bool { storage.withLock { $0.overflowed } }

  /// The bytes as text, trimmed, marked when cut.
  var text: String {
    let (bytes, cut) = storage.withLock { ($0.bytes, $0.overflowed) }
    let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return cut && keep == .tail ? "…" + text : text
  }
}
