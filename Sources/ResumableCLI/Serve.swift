import ArgumentParser
import Foundation
import Logging
import ResumableCore
import ResumableRedis
import ResumableServer
import ServiceLifecycle

/// `resumable serve`: the sidecar.
struct Serve: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run the sidecar server.",
    discussion: """
      Serves the RPC protocol on a Unix socket (mode 0600). Without --redis it starts a \
      private redis-server (Unix socket only, append-only file on) under --data-dir and \
      stops it on shutdown. SIGINT/SIGTERM shut down gracefully: no new connections, steps \
      in flight finish and commit within the grace period.
      """)

  @OptionGroup var socket: SocketOption

  @Option(name: .long, help: "An existing Redis: redis://[user[:password]@]host:port[/db], unix:///path[?db=N], redis+sentinel://host:port[,host:port…]/MASTER_NAME[?db=N] or redis+cluster://host:port[,host:port…]. Default: an embedded redis-server.")
  var redis: String?

  @Option(name: .long, help: "The workflow definitions file (YAML or JSON).")
  var workflows: String?

  @Option(name: .customLong("data-dir"), help: "Where the embedded Redis keeps its data (default $XDG_DATA_HOME/resumable or ~/.local/share/resumable).")
  var dataDir: String?

  @Option(name: .long, help: "Seconds every key of a run lives after its last progress.")
  var ttl: Int = 86_400

  @Option(name: .customLong("max-frame-bytes"), help: "The largest request frame accepted, in bytes.")
  var maxFrameBytes: Int = 4 * 1024 * 1024

  @Option(name: .customLong("lease-seconds"), help: "How long a runner's lease lasts without renewal.")
  var leaseSeconds: Double = 15

  @Option(name: .customLong("retention-completed"), help: "Seconds a COMPLETED run is kept (default: --ttl).")
  var retentionCompleted: Int?

  @Option(name: .customLong("retention-failed"), help: "Seconds a FAILED run is kept, resumable (default: --ttl).")
  var retentionFailed: Int?

  @Option(name: .customLong("retention-cancelled"), help: "Seconds a CANCELLED run is kept (default: --ttl).")
  var retentionCancelled: Int?

  @Option(name: .customLong("approval-timeout"), help: "Seconds a run waits for a person's approval before it fails (default 86400; a step's approval_timeout_ms overrides it).")
  var approvalTimeout: Int = 86_400

  @Option(
    name: .customLong("max-spend-per-hour"),
    help: ArgumentHelp(
      "What every server on the Redis may spend together in any hour, in US dollars: past it, new attempts wait (WAITING, spending nothing) until the window allows. Give every server sharing the Redis the same value.",
      valueName: "usd"))
  var maxSpendPerHour: Double?

  @Option(name: .customLong("recovery-interval"), help: "Seconds between looks for runs whose server died (their lease lapsed), to take them over.")
  var recoveryInterval: Double = 1

  @Flag(name: .customLong("no-recovery"), help: "Do not take over runs whose server died (another server sharing the Redis may).")
  var noRecovery = false

  @Option(name: .customLong("redis-fsync"), help: "The embedded Redis' appendfsync policy: always (default: no acknowledged write is lost) or everysec (faster).")
  var redisFsync: String = "always"

  @Option(
    name: .customLong("redis-wait-replicas"),
    help: "Each write of a run waits until this many replicas have it (WAIT), so an acknowledged commit survives a failover (default 0: none).")
  var redisWaitReplicas: Int = 0

  @Option(name: .customLong("grace-seconds"), help: "How long a graceful shutdown lets steps in flight finish.")
  var graceSeconds: Double = 30

  @Option(name: .customLong("key-prefix"), help: "The first part of every Redis key.")
  var keyPrefix: String = "resumable"

  @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
  var logLevel: String = "info"

  @OptionGroup(title: "Access, limits, Redis credentials, metrics and logs")
  var hardening: ServeHardeningOptions

  func validate() throws {
    guard Logger.Level(rawValue: logLevel) != nil else {
      throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
    }
    guard ttl > 0 else { throw ValidationError("--ttl must be a positive number of seconds") }
    guard maxFrameBytes >= 1024, maxFrameBytes <= 1 << 30 else {
      throw ValidationError("--max-frame-bytes must be between 1024 and 1073741824")
    }
    guard leaseSeconds >= 0.1 else { throw ValidationError("--lease-seconds must be at least 0.1") }
    for (flag, value) in [
      ("--retention-completed", retentionCompleted), ("--retention-failed", retentionFailed),
      ("--retention-cancelled", retentionCancelled), ("--approval-timeout", approvalTimeout),
    ] {
      if let value, value <= 0 { throw ValidationError("\(flag) must be a positive number of seconds") }
    }
    if let maxSpendPerHour, Money.micros(fromDollars: maxSpendPerHour) ?? 0 <= 0 {
      throw ValidationError("--max-spend-per-hour must be a finite number of US dollars above 0, not \(maxSpendPerHour)")
    }
    guard recoveryInterval >= 0.01 else { throw ValidationError("--recovery-interval must be at least 0.01") }
    guard ["always", "everysec"].contains(redisFsync) else {
      throw ValidationError("--redis-fsync must be always or everysec")
    }
    if redis != nil, redisFsync != "always" {
      throw ValidationError("--redis-fsync applies to the embedded Redis only; configure an external Redis' appendfsync yourself")
    }
    guard redisWaitReplicas >= 0 else { throw ValidationError("--redis-wait-replicas must be 0 or more") }
    if redis == nil, redisWaitReplicas > 0 {
      throw ValidationError("--redis-wait-replicas needs --redis: the embedded Redis has no replicas")
    }
    guard graceSeconds >= 0 else { throw ValidationError("--grace-seconds must be 0 or more") }
    guard !keyPrefix.isEmpty, !keyPrefix.contains("{"), !keyPrefix.contains("}") else {
      throw ValidationError("--key-prefix must be non-empty and contain no '{' or '}'")
    }
    if let redis {
      do {
        _ = try RedisAddress(url: redis)
      } catch {
        throw ValidationError("--redis: \(error)")
      }
    }
  }

  func run() async throws {
    hardening.bootstrapLogging(level: Logger.Level(rawValue: logLevel) ?? .info)
    let logger = Logger(label: "resumable")
    let registry = ResumableCommandLine.plugins
    var definitions = Definitions(workflows: [])
    if let workflows {
      do {
        definitions = try DefinitionsFile.loadDefinitions(path: workflows, registry: registry)
      } catch {
        throw ServeFailure("cannot load the workflows: \(error)")
      }
    } else {
      logger.warning("no --workflows file given: nothing can be started until one is")
    }
    let location: RedisBackend
    if let redis {
      location = .external(try hardening.authenticated(try RedisAddress(url: redis)))
    } else {
      location = .embedded(dataDirectory: dataDir ?? Self.defaultDataDirectory())
    }
    var state = RedisStateBackend(location)
    state.keyPrefix = keyPrefix
    state.waitReplicas = redisWaitReplicas
    state.embeddedFsync = redisFsync == "everysec" ? .everysec : .always
    var transport = ServerConfiguration(socketPath: socket.path)
    transport.maximumFrameBytes = maxFrameBytes
    var configuration = SidecarConfiguration(transport: transport, workflows: definitions.workflows, plugins: registry)
    definitions.apply(to: &configuration.engine)
    configuration.engine.ttl = .seconds(ttl)
    configuration.engine.leaseDuration = .milliseconds(Int64(leaseSeconds * 1000))
    configuration.shutdownGracePeriod = .milliseconds(Int64(graceSeconds * 1000))
    configuration.engine.retentionCompleted = retentionCompleted.map { .seconds($0) }
    configuration.engine.retentionFailed = retentionFailed.map { .seconds($0) }
    configuration.engine.retentionCancelled = retentionCancelled.map { .seconds($0) }
    configuration.engine.approvalTimeout = .seconds(approvalTimeout)
    configuration.engine.maxSpendPerHourMicros = maxSpendPerHour.flatMap { Money.micros(fromDollars: $0) }
    configuration.engine.recoveryInterval = noRecovery ? nil : .milliseconds(Int64(recoveryInterval * 1000))
    try hardening.apply(to: &configuration, state: &state)

    let server = ResumableServer(configuration: configuration, state: state, logger: logger)
    let group = ServiceGroup(
      configuration: ServiceGroupConfiguration(
        services: [.init(service: server)], gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger))
    do {
      try await group.run()
    } catch let error as ServerError {
      throw ServeFailure(ErrorHints.message(of: error))
    } catch let error as RedisServerError {
      throw ServeFailure(ErrorHints.message(of: error))
    }
  }

  static func defaultDataDirectory() -> String {
    let environment = ProcessInfo.processInfo.environment
    if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty { return xdg + "/resumable" }
    if let home = environment["HOME"], !home.isEmpty { return home + "/.local/share/resumable" }
    return "/tmp/resumable-\(getuid())"
  }
}

/// A serve failure printed as one line, exit code 1.
struct ServeFailure: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
