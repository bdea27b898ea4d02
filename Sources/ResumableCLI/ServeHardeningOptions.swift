import ArgumentParser
import Foundation
import Logging
import ResumableMetrics
import ResumableRedis
import ResumableServer

/// `serve`'s options for who may connect, limits, Redis credentials and
/// deadline, metrics and log format (README: "Hardening and observability").
struct ServeHardeningOptions: ParsableArguments {
  /// The environment variable a Redis password may come from.
  static let passwordVariable = "RESUMABLE_REDIS_PASSWORD"

  @Option(name: .customLong("socket-mode"), help: "The socket file's mode, in octal.")
  var socketMode: String = "0600"

  @Option(name: .customLong("socket-group"), help: "Give the socket file this group (a name or a gid), e.g. with --socket-mode 0660.")
  var socketGroup: String?

  @Option(name: .customLong("allow-uid"), help: "Let in peers with this user id (repeatable). With any --allow-uid/--allow-gid, everyone else is refused.")
  var allowUID: [UInt32] = []

  @Option(name: .customLong("allow-gid"), help: "Let in peers whose primary group id is this (repeatable).")
  var allowGID: [UInt32] = []

  @Option(name: .customLong("max-connections"), help: "Open connections at once; one more is refused RESOURCE_EXHAUSTED.")
  var maxConnections: Int = ServerLimits().maximumConnections

  @Option(name: .customLong("max-requests-per-connection"), help: "Requests in flight on one connection; one more is answered RESOURCE_EXHAUSTED.")
  var maxRequestsPerConnection: Int = ServerLimits().maximumRequestsPerConnection

  @Option(name: .customLong("max-request-bytes-per-connection"), help: "Bytes of requests in flight on one connection; a request past it is answered RESOURCE_EXHAUSTED.")
  var maxRequestBytesPerConnection: Int = ServerLimits().maximumRequestBytesPerConnection

  @Option(name: .customLong("frame-timeout"), help: "Seconds a frame may take to arrive in full once its first byte has; then the connection is closed.")
  var frameTimeout: Double = 30

  @Option(name: .customLong("max-runs"), help: "Runs this server executes at once; starting or resuming one more is answered RESOURCE_EXHAUSTED.")
  var maxRuns: Int = 256

  @Option(name: .customLong("idle-timeout"), help: "Seconds a connection with nothing in flight may stay silent before it is closed (0: never).")
  var idleTimeout: Double = 300

  @Option(name: .customLong("write-stall-timeout"), help: "Seconds a peer may read nothing while answers wait before its connection is closed.")
  var writeStallTimeout: Double = 30

  @Option(name: .customLong("redis-timeout"), help: "Seconds a Redis command may wait for its reply (decimals allowed, e.g. 0.5); past it the connection is dropped and reconnected, and the call answered UNAVAILABLE.")
  var redisTimeout: Double = 3

  @Option(name: .customLong("redis-password-file"), help: "Read the Redis password from this file (first line). Else $\(passwordVariable), else the --redis URL.")
  var redisPasswordFile: String?

  @Option(name: .customLong("metrics-address"), help: "Serve Prometheus metrics at http://ADDRESS/metrics: HOST:PORT (e.g. 127.0.0.1:9464) or a Unix socket path. Default: off.")
  var metricsAddress: String?

  @Option(name: .customLong("log-format"), help: "text or json (one object per line).")
  var logFormat: String = "text"

  func validate() throws {
    guard let mode = UInt32(socketMode, radix: 8), mode <= 0o777 else {
      throw ValidationError("--socket-mode must be octal permission bits, e.g. 0600 or 0660")
    }
    if mode & 0o600 != 0o600 {
      throw ValidationError("--socket-mode must keep the owner's read and write bits (0600)")
    }
    guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
    guard maxRequestsPerConnection >= 1 else { throw ValidationError("--max-requests-per-connection must be at least 1") }
    guard maxRequestBytesPerConnection >= 1 else {
      throw ValidationError("--max-request-bytes-per-connection must be at least 1")
    }
    guard frameTimeout > 0 else { throw ValidationError("--frame-timeout must be a positive number of seconds") }
    guard maxRuns >= 1 else { throw ValidationError("--max-runs must be at least 1") }
    guard idleTimeout >= 0 else { throw ValidationError("--idle-timeout must be 0 (never) or more seconds") }
    guard writeStallTimeout > 0 else { throw ValidationError("--write-stall-timeout must be a positive number of seconds") }
    guard redisTimeout > 0, redisTimeout.isFinite, redisTimeout <= 86_400 else {
      throw ValidationError("--redis-timeout must be a positive number of seconds (at most 86400), e.g. 3 or 0.5")
    }
    guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format must be text or json") }
    if let metricsAddress {
      do {
        _ = try MetricsEndpoint.Address(parsing: metricsAddress)
      } catch {
        throw ValidationError("--metrics-address: \(error)")
      }
    }
  }

  /// Sets up swift-log: text lines (swift-log's stream handler's format) or JSON lines, on standard error.
  func bootstrapLogging(level: Logger.Level) {
    let json = logFormat == "json"
    LoggingSystem.bootstrap { label in
      json ? JSONLogHandler(label: label, level: level) as any LogHandler : TextLogHandler(label: label, level: level)
    }
  }

  /// The Redis address with its password from the file or the environment.
  /// - Throws: when the password is given twice, the file is unreadable or
  ///   empty, or an ACL user name has no password. Never prints the password.
  func authenticated(_ address: RedisAddress) throws -> RedisAddress {
    var password: String?
    if let redisPasswordFile {
      let text: String
      do {
        text = try String(contentsOfFile: redisPasswordFile, encoding: .utf8)
      } catch {
        throw ServeFailure("cannot read --redis-password-file '\(redisPasswordFile)': \((error as NSError).localizedDescription)")
      }
      let firstLine = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
      password = String(firstLine.hasSuffix("\r") ? firstLine.dropLast() : firstLine)
      guard password?.isEmpty == false else { throw ServeFailure("--redis-password-file '\(redisPasswordFile)' is empty") }
    } else if let value = ProcessInfo.processInfo.environment[Self.passwordVariable], !value.isEmpty {
      password = value
    }
    guard let password else {
      if let username = address.username, !address.hasPassword {
        throw ServeFailure(
          "--redis names the user '\(username)' but no password: put it in --redis-password-file or $\(Self.passwordVariable)")
      }
      return address
    }
    if address.hasPassword {
      throw ServeFailure(
        "the Redis password is given twice (in the --redis URL and in --redis-password-file or $\(Self.passwordVariable)); keep one — preferably the file")
    }
    return address.authenticating(username: address.username, password: password)
  }

  /// Applies the access rules and limits to `configuration`, and the metrics
  /// endpoint (bootstrapping swift-metrics with Prometheus) when asked for.
  func apply(to configuration: inout SidecarConfiguration, state: inout RedisStateBackend) throws {
    configuration.transport.access.socketMode = UInt32(socketMode, radix: 8) ?? 0o600
    configuration.transport.access.socketGroup = socketGroup
    configuration.transport.access.allowedUIDs = Set(allowUID)
    configuration.transport.access.allowedGIDs = Set(allowGID)
    configuration.transport.limits.maximumConnections = maxConnections
    configuration.transport.limits.maximumRequestsPerConnection = maxRequestsPerConnection
    configuration.transport.limits.idleTimeout = idleTimeout > 0 ? .milliseconds(Int64(idleTimeout * 1000)) : nil
    configuration.transport.limits.writeStallTimeout = .milliseconds(Int64(writeStallTimeout * 1000))
    configuration.transport.limits.maximumRequestBytesPerConnection = maxRequestBytesPerConnection
    configuration.transport.limits.frameArrivalTimeout = .milliseconds(Int64(frameTimeout * 1000))
    configuration.engine.maximumActiveRuns = maxRuns
    state.commandTimeout = .milliseconds(max(1, Int64((redisTimeout * 1000).rounded())))
    if let metricsAddress {
      let address = try MetricsEndpoint.Address(parsing: metricsAddress)
      configuration.metrics = MetricsEndpoint(address: address, registry: PrometheusMetrics.bootstrap())
    }
  }
}
