import ResumableCore
public import ResumableRedis

/// A private `redis-server` for one test: its own temporary directory under `/tmp`, a Unix
/// socket inside it, the append-only file on.
///
/// Starting it never skips: if `redis-server` is missing or does not come up,
/// ``start(appendFsync:extraArguments:)`` throws (and the test fails) with what to install
/// or the tail of Redis' log.
///
/// - Important: Tests only. Prefer ``withTestRedis(appendFsync:extraArguments:isolation:_:)``,
///   which stops the server and deletes the directory afterwards.
public struct TestRedis: Sendable {
  /// The running server; tests may `kill()` and `start()` it again (same data, same socket).
  public let server: RedisServerProcess
  /// The directory holding the socket, the AOF and the logs.
  public let directory: TemporaryDirectory

  /// The server's address (database 0).
  public var address: RedisAddress { server.address }

  /// Starts a server in a fresh temporary directory.
  ///
  /// - Parameters:
  ///   - appendFsync: The AOF fsync policy; `.always` makes crash tests deterministic.
  ///   - extraArguments: More `redis-server` arguments, e.g. `["--requirepass", "pw"]`.
  public static func start(
    appendFsync: RedisServerProcess.Configuration.AppendFsync = .everysec,
    extraArguments: [String] = []
  ) async throws -> TestRedis {
    let directory = try await TemporaryDirectory.create()
    let server = RedisServerProcess(
      configuration: .init(
        dataDirectory: directory.path, appendFsync: appendFsync, extraArguments: extraArguments,
        stopGracePeriod: .seconds(2)))
    do {
      try await server.start()
    } catch {
      await directory.remove()
      throw error
    }
    return TestRedis(server: server, directory: directory)
  }

  /// A new client for this server; close it when done.
  ///
  /// The default reconnect backoff is short (10 ms → 200 ms) so fault tests run fast.
  public func makeClient(
    database: Int = 0,
    configuration: RedisClient.Configuration = .init(
      connectTimeout: .seconds(2),
      reconnectBackoff: .init(initial: .milliseconds(10), maximum: .milliseconds(200)))
  ) -> RedisClient {
    RedisClient(address: address.selecting(database: database), configuration: configuration)
  }

  /// Runs `body` with a new client and closes it afterwards, also when `body` throws.
  public func withClient<T>(
    database: Int = 0,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (RedisClient) async throws -> T
  ) async throws -> T {
    try await withResource(makeClient(database: database), body) { await $0.close() }
  }

  /// Stops the server and deletes its directory.
  public func shutdown() async {
    await server.stop()
    await directory.remove()
  }
}

/// Runs `body` with a freshly started ``TestRedis``, then stops it and deletes its directory,
/// also when `body` throws.
public func withTestRedis<T>(
  appendFsync: RedisServerProcess.Configuration.AppendFsync = .everysec,
  extraArguments: [String] = [],
  isolation: isolated (any Actor)? = #isolation,
  _ body: (TestRedis) async throws -> T
) async throws -> T {
  try await withResource(try await TestRedis.start(appendFsync: appendFsync, extraArguments: extraArguments), body) {
    await $0.shutdown()
  }
}

/// A key prefix no other test uses, e.g. `test-3f9a0c1d2e4b5a67:`; tests that share a
/// server keep their keys apart with it.
public func uniqueKeyPrefix(_ label: String = "test") -> String {
  let random = UInt64.random(in: .min ... .max)
  let hex = String(random, radix: 16)
  return "\(label)-\(String(repeating: "0", count: 16 - hex.count))\(hex):"
}
