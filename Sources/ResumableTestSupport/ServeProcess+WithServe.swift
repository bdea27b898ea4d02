import Testing

extension ServeProcess {
  /// Runs `body` with a `resumable serve` process against `redis`, serving `yaml`, given
  /// `extraArguments` (log level `warning` unless they set one), then stops it with SIGTERM
  /// and expects it to exit 0; when `body` throws, kills it instead.
  /// - Parameters:
  ///   - redis: The Redis it uses, with a key prefix of its own.
  ///   - yaml: The definitions file's text.
  ///   - directory: Where the socket (`hard.sock`), the definitions and the output files go.
  ///   - extraArguments: More `serve` arguments.
  ///   - environment: Variables set on top of the test's environment.
  ///   - body: Given the socket path and the process.
  public static func withServe(
    redis: TestRedis, yaml: String, directory: TemporaryDirectory, extraArguments: [String] = [],
    environment: [String: String] = [:], _ body: (_ socket: String, _ server: ServeProcess) async throws -> Void
  ) async throws {
    var arguments = try ServeProcess.arguments(redis: redis, yaml: yaml, keyPrefix: uniqueKeyPrefix(), in: directory)
    arguments += extraArguments
    let logLevel = extraArguments.firstIndex(of: "--log-level").map { extraArguments[$0 + 1] } ?? "warning"
    if let index = arguments.firstIndex(of: "--log-level") { arguments.removeSubrange(index...index + 1) }
    let server = try await ServeProcess.start(arguments, name: "hard", logLevel: logLevel, environment: environment, in: directory)
    do {
      try await body(server.socket, server)
    } catch {
      await server.kill()
      throw error
    }
    let status = await server.stop()
    #expect(status == 0, "serve exited \(status): \(server.stderr)")
  }
}
