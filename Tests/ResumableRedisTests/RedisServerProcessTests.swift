import Foundation
import Glibc
import ResumableRedis
import ResumableTestSupport
import Testing

@testable import ResumableRedis

@Suite struct RedisServerProcessTests {
  @Test func stopLeavesNoProcessOrZombie() async throws {
    let redis = try await TestRedis.start()
    let pid = try #require(redis.server.pid)
    #expect(kill(pid, 0) == 0)
    await redis.server.stop()
    #expect(redis.server.pid == nil)
    // A zombie would still accept signal 0; a reaped child is gone (ESRCH).
    #expect(kill(pid, 0) == -1 && errno == ESRCH)
    await redis.shutdown()
  }

  @Test func childInheritsNoDescriptors() async throws {
    try await withTemporaryDirectory { directory in
      // Opened without O_CLOEXEC, as NIO's listening sockets are.
      let marker = directory.appending("marker")
      let descriptor = open(marker, O_RDONLY | O_CREAT, 0o600)
      try #require(descriptor >= 0)
      defer { close(descriptor) }
      try await withTestRedis { redis in
        let pid = try #require(redis.server.pid)
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
        let targets = fds.compactMap {
          try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")
        }
        #expect(!targets.isEmpty)
        #expect(!targets.contains(marker), "\(targets)")
      }
    }
  }

  @Test func startRefusesWhileRunning() async throws {
    try await withTestRedis { redis in
      let error = await #expect(throws: RedisServerError.self) { try await redis.server.start() }
      #expect(error?.code == .alreadyRunning)
    }
  }

  @Test func aSecondServerOnTheSameDataDirectoryIsRefusedUntilTheFirstStops() async throws {
    try await withTestRedis { redis in
      let directory = redis.server.configuration.dataDirectory
      let second = RedisServerProcess(configuration: .init(dataDirectory: directory))
      let error = await #expect(throws: RedisServerError.self) { try await second.start() }
      #expect(error?.code == .dataDirectoryInUse)
      #expect(error?.message.contains("the data directory \(directory) is in use by process \(getpid())") == true, "\(error?.message ?? "")")
      #expect(RedisServerProcess.processes(inDataDirectory: directory) == [try #require(redis.server.pid)])
      await redis.server.stop()
      // A child another test forks at this moment shares the lock's open file until it
      // execs (close-on-exec): the lock may take an instant to come free.
      try await eventually { try await second.start() }
      #expect(RedisServerProcess.processes(inDataDirectory: directory) == [try #require(second.pid)])
      await second.stop()
    }
  }

  @Test func missingRedisServerSaysWhatToInstall() async throws {
    let error = #expect(throws: RedisServerError.self) {
      try RedisServerProcess.findExecutable(nil, searchPath: "/nonexistent:/also-nonexistent")
    }
    #expect(error?.code == .notInstalled)
    #expect(error?.message.contains("apt-get install redis-server") == true)
    #expect(error?.message.contains("a Redis that is already running") == true)
  }

  @Test func failedStartReportsTheLogTail() async throws {
    try await withTemporaryDirectory { directory in
      let server = RedisServerProcess(
        configuration: .init(
          dataDirectory: directory.path, extraArguments: ["--no-such-option", "1"]))
      let error = await #expect(throws: RedisServerError.self) { try await server.start() }
      #expect(error?.code == .notReady)
      #expect(error?.message.contains("exited during start-up") == true)
      #expect(error?.message.contains("no-such-option") == true, "\(error?.message ?? "")")
      #expect(server.pid == nil)
    }
  }

  /// Every key of a run has a TTL: an evicting policy could take one key of a run alone.
  @Test func runsWithNoEviction() async throws {
    let arguments = RedisServerProcess.arguments(.init(dataDirectory: "/tmp/x"))
    let flag = try #require(arguments.firstIndex(of: "--maxmemory-policy"), "\(arguments)")
    #expect(arguments[flag + 1] == "noeviction")
    try await withTestRedis { redis async throws in
      try await redis.withClient { client async throws in
        #expect(try await client.send(["CONFIG", "GET", "maxmemory-policy"]) == .array(["maxmemory-policy", "noeviction"]))
        #expect(try await client.maxmemoryPolicy() == "noeviction")
      }
    }
  }

  /// Managed Redis services often rename CONFIG: the policy then comes from INFO.
  @Test func maxmemoryPolicyFallsBackToInfoWhereConfigIsRenamed() async throws {
    try await withTestRedis(extraArguments: ["--maxmemory-policy", "volatile-lru", "--rename-command", "CONFIG", ""]) {
      redis async throws in
      try await redis.withClient { client async throws in
        #expect(try await client.send(["CONFIG", "GET", "maxmemory-policy"]).errorMessage != nil)
        #expect(try await client.maxmemoryPolicy() == "volatile-lru")
      }
    }
  }

  @Test func tooLongSocketPathIsRefused() async throws {
    let server = RedisServerProcess(
      configuration: .init(dataDirectory: "/tmp/" + String(repeating: "x", count: 110)))
    let error = await #expect(throws: RedisServerError.self) { try await server.start() }
    #expect(error?.code == .invalidConfiguration)
  }
}
