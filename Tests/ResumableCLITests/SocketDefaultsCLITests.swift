import Foundation
import ResumableTestSupport
import Testing

/// Issue 12, the default socket path, end to end: `serve` and the CLI without `--socket`
/// meet in `$XDG_RUNTIME_DIR`, else in `/tmp/resumable-UID` (made 0700, refused when it is
/// not the user's own), and a client refuses a server running as another user unless told
/// to trust it. The other user is `nobody`, through setpriv.
@Suite("Default socket and server identity, end to end", .serialized)
struct SocketDefaultsCLITests {
  static let nobody: UInt32 = 65534
  static let nobodysDirectory = "/tmp/resumable-65534"

  /// The command line that runs `resumable arguments` as nobody, or as this user, without
  /// `XDG_RUNTIME_DIR` unless `environment` sets it.
  static func command(_ arguments: [String], asNobody: Bool = true, environment: [String: String] = [:]) throws -> [String] {
    let user = asNobody ? ["setpriv", "--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups"] : []
    let variables = environment.isEmpty ? ["-u", "XDG_RUNTIME_DIR"] : environment.map { "\($0.key)=\($0.value)" }
    return variables + user + [try ChildProcess.resumableBinary()] + arguments
  }

  static func run(_ arguments: [String], asNobody: Bool = true, environment: [String: String] = [:], in directory: TemporaryDirectory)
    async throws -> (status: Int32, stdout: String, stderr: String)
  {
    try await ChildProcess.run(
      try command(arguments, asNobody: asNobody, environment: environment), executable: "/usr/bin/env", in: directory)
  }

  /// `serve` on the embedded Redis in a data directory the user can write, without `--socket`.
  static func serve(asNobody: Bool = true, environment: [String: String] = [:], in directory: TemporaryDirectory) throws -> ChildProcess {
    let definitions = directory.appending("w.yaml")
    try "workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo, inputs: [input]}\n"
      .write(toFile: definitions, atomically: true, encoding: .utf8)
    // Readable by nobody whatever the umask (an in-process server narrows it while binding).
    chmod(definitions, 0o644)
    let dataDir = directory.appending("data-\(UUID().uuidString.prefix(6))")
    try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: false)
    chmod(dataDir, 0o700)
    if asNobody { chown(dataDir, nobody, nobody) }
    return try ChildProcess(
      try command(["serve", "--workflows", definitions, "--data-dir", dataDir, "--log-level", "warning"], asNobody: asNobody, environment: environment),
      executable: "/usr/bin/env", in: directory)
  }

  /// Waits until `health` (with no `--socket`) answers, as the server's own user.
  static func waitUntilServing(_ server: ChildProcess, asNobody: Bool = true, environment: [String: String] = [:], in directory: TemporaryDirectory) async throws {
    try await eventually(timeout: .seconds(20), interval: .milliseconds(50)) {
      guard server.process.isRunning else { throw TestSupportError("serve exited: \(server.stderr)") }
      let health = try await run(["health"], asNobody: asNobody, environment: environment, in: directory)
      guard health.status == 0 else { throw TestSupportError("not serving yet: \(health.stderr)") }
    }
  }

  /// A directory nobody can enter.
  static func withSharedDirectory(_ body: (TemporaryDirectory) async throws -> Void) async throws {
    try await withTemporaryDirectory { directory in
      chmod(directory.path, 0o755)
      try? FileManager.default.removeItem(atPath: nobodysDirectory)
      do {
        try await body(directory)
      } catch {
        try? FileManager.default.removeItem(atPath: nobodysDirectory)
        throw error
      }
      try? FileManager.default.removeItem(atPath: nobodysDirectory)
    }
  }

  @Test func withXDGRuntimeDirTheSocketIsThere() async throws {
    try await Self.withSharedDirectory { directory in
      let runtime = directory.appending("run")
      #expect(mkdir(runtime, 0o700) == 0)
      let environment = ["XDG_RUNTIME_DIR": runtime]
      let server = try Self.serve(asNobody: false, environment: environment, in: directory)
      try await Self.waitUntilServing(server, asNobody: false, environment: environment, in: directory)
      #expect(FileManager.default.fileExists(atPath: runtime + "/resumable.sock"))
      let state = try await Self.run(["state", "x"], asNobody: false, environment: environment, in: directory)
      #expect(state.stderr.contains("NOT_FOUND"), "\(state.stderr)")
      server.signal(SIGTERM)
      #expect(await server.wait() == 0, "\(server.stderr)")
    }
  }

  @Test func withoutItAPrivateDirectoryInTmpAndAServerOfAnotherUserIsRefused() async throws {
    try await Self.withSharedDirectory { directory in
      let server = try Self.serve(in: directory)
      try await Self.waitUntilServing(server, in: directory)
      var info = stat()
      #expect(lstat(Self.nobodysDirectory, &info) == 0)
      #expect(info.st_mode & S_IFMT == S_IFDIR)
      #expect(info.st_mode & 0o777 == 0o700)
      #expect(info.st_uid == Self.nobody)
      let socket = Self.nobodysDirectory + "/resumable.sock"
      #expect(FileManager.default.fileExists(atPath: socket))

      // Nobody's own client, with no --socket, finds it.
      let own = try await Self.run(["state", "x"], in: directory)
      #expect(own.stderr.contains("NOT_FOUND"), "\(own.stderr)")
      // This test runs as root: nobody's server is not trusted…
      let refused = try await ChildProcess.run(["state", "x", "--socket", socket], in: directory)
      #expect(refused.status == 69, "\(refused.stdout) \(refused.stderr)")
      #expect(
        refused.stderr.contains(
          "the server on \(socket) runs as uid \(Self.nobody), not you (uid 0); pass --trust-server-uid \(Self.nobody) if you trust it"),
        "\(refused.stderr)")
      // …unless it is trusted by name.
      let trusted = try await ChildProcess.run(["state", "x", "--socket", socket, "--trust-server-uid", "\(Self.nobody)"], in: directory)
      #expect(trusted.stderr.contains("NOT_FOUND"), "\(trusted.stderr)")
      server.signal(SIGTERM)
      #expect(await server.wait() == 0, "\(server.stderr)")
    }
  }

  /// A directory made first by someone else, or opened to others: the server will not
  /// listen there and the client will not connect there.
  @Test(arguments: ["mode 0777", "owned by root"])
  func aSocketDirectoryNotTheUsersOwnIsRefused(kind: String) async throws {
    try await Self.withSharedDirectory { directory in
      #expect(mkdir(Self.nobodysDirectory, 0o700) == 0)
      if kind == "mode 0777" {
        chown(Self.nobodysDirectory, Self.nobody, Self.nobody)
        chmod(Self.nobodysDirectory, 0o777)
      }
      let server = try Self.serve(in: directory)
      let status = await server.wait(timeout: .seconds(20))
      #expect(status != nil && status != 0)
      let problem = kind == "mode 0777" ? "its mode 777 lets other users in" : "it belongs to uid 0, not to you (uid \(Self.nobody))"
      #expect(server.stderr.contains("refusing the socket directory \(Self.nobodysDirectory): \(problem)"), "\(server.stderr)")
      let client = try await Self.run(["state", "x"], in: directory)
      #expect(client.status != 0)
      #expect(client.stderr.contains("refusing the socket directory \(Self.nobodysDirectory): \(problem)"), "\(client.stderr)")
    }
  }
}
