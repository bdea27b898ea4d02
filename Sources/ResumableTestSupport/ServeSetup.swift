import ResumableClient
import ResumableWire

/// What tests of `resumable serve` processes sharing one Redis start from: a Redis that
/// fsyncs every write, a directory, a record file, and the serve arguments for a
/// definitions file that writes to it.
public struct ServeSetup: Sendable {
  /// A short lease and a fast recovery loop, so tests take seconds.
  public static let fast = ["--lease-seconds", "1", "--recovery-interval", "0.1"]

  /// The Redis every server of the setup shares.
  public let redis: TestRedis
  /// Where the sockets, the definitions file and the record file are.
  public let directory: TemporaryDirectory
  /// The record file the workflows' `simulate` steps write to.
  public let record: RecordFile
  /// The key prefix of every server of the setup.
  public let prefix: String
  /// `--redis`, `--workflows` and `--key-prefix`, for ``ServeProcess/start(_:name:logLevel:environment:in:)``.
  public let arguments: [String]

  /// Runs `body` with a new setup, served the workflows `yaml` makes of the record file's path.
  public static func with(yaml: (String) -> String, _ body: (ServeSetup) async throws -> Void) async throws {
    try await withTestRedis(appendFsync: .always) { redis in
      let directory = try await TemporaryDirectory.create()
      defer { Task { await directory.remove() } }
      let record = RecordFile(in: directory)
      let prefix = uniqueKeyPrefix()
      let arguments = try ServeProcess.arguments(redis: redis, yaml: yaml(record.path), keyPrefix: prefix, in: directory)
      try await body(ServeSetup(redis: redis, directory: directory, record: record, prefix: prefix, arguments: arguments))
    }
  }

  /// Starts a server of the setup, with `extra` arguments, on the socket `<name>.sock`.
  public func serve(_ extra: [String], name: String) async throws -> ServeProcess {
    try await ServeProcess.start(arguments + extra, name: name, in: directory)
  }

  /// Audits the runs `ids`, read through `server`, against the record file and Redis.
  public func audit(_ ids: [String], via server: ServeProcess) async throws -> RunAudit {
    let states = try await server.withClient { client in
      var states: [RunState] = []
      for id in ids { states.append(try await client.getState(GetStateRequest(workflowID: id)).state) }
      return states
    }
    let commits = try await RunAudit.commitEvents(redis: redis, keyPrefix: prefix, ids: ids)
    return RunAudit(lines: record.lines(), states: states, commits: commits)
  }

  /// Waits until every run is COMPLETED, reading through `server`.
  public func waitForCompletion(_ ids: [String], via server: ServeProcess, timeout: Duration = .seconds(30)) async throws {
    try await eventually(timeout: timeout, interval: .milliseconds(50)) {
      try await server.withClient { client in
        for id in ids {
          let state = try await client.getState(GetStateRequest(workflowID: id)).state
          guard state.status == .completed else {
            throw TestSupportError("\(id) is \(state.status.rawValue) at '\(state.currentStep)' \(state.error)")
          }
        }
      }
    }
  }

  /// Waits until `line` is in the record file: that execution has started.
  public func waitForExecution(_ line: String) async throws {
    try await eventually(timeout: .seconds(20), interval: .milliseconds(10)) {
      guard record.lines().contains(line) else { throw TestSupportError("'\(line)' did not start") }
    }
  }
}
