import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Finds the current master of a Sentinel deployment: asks the sentinels in turn
/// (`SENTINEL get-master-addr-by-name`), the one that answered last first.
///
/// The sentinels are sent the same credentials as the master (`AUTH [user] password`,
/// before each question and before `SUBSCRIBE`), as one password for a whole deployment
/// is the usual set-up. A sentinel without a password answers that `AUTH` with an error
/// but lets everyone in: the question after it is answered all the same. Only when the
/// sentinel then answers `NOAUTH` is the refusal reported, saying what to configure.
/// Each sentinel has its own lazily connected, self-healing connection, so a sentinel
/// that is down fails fast (its reconnect backs off) and the next one is asked.
///
/// From the first resolution on, one connection to a sentinel (the next one when it drops,
/// with backoff) is subscribed to `+switch-master`: when the sentinels switch this master,
/// the handler given to ``onSwitch(_:)`` runs, so the client drops its connections at once
/// rather than when a write meets `READONLY`.
final class SentinelResolver: Sendable {
  private struct Watch {
    var started = false
    var closed = false
    var task: Task<Void, Never>?
    var channel: (any Channel)?
    var onSwitch: (@Sendable () -> Void)?
  }

  let masterName: String
  private let nodes: [RedisAddress.Node]
  /// `AUTH` with the master's credentials, if it has any.
  private let authenticate: [[RedisArgument]]
  private let connections: [RedisConnection]
  /// The sentinel that answered last: asked first next time.
  private let preferred = Atomic<Int>(0)
  private let watch = Mutex(Watch())
  private let group: any EventLoopGroup
  private let logger: Logger
  private let backoff: RedisClient.Configuration.Backoff

  init(
    nodes: [RedisAddress.Node], masterName: String, credentials: RedisAddress, configuration: RedisClient.Configuration,
    group: any EventLoopGroup, logger: Logger
  ) {
    self.masterName = masterName
    self.nodes = nodes
    self.authenticate = credentials.authCommand.map { [$0] } ?? []
    self.group = group
    self.logger = logger
    self.backoff = configuration.reconnectBackoff
    // Short deadlines: a sentinel that does not answer at once is skipped, not waited for.
    let sentinelConfiguration = RedisClient.Configuration(
      connectTimeout: min(configuration.connectTimeout, .seconds(1)),
      reconnectBackoff: configuration.reconnectBackoff, commandTimeout: .seconds(1))
    self.connections = nodes.map { node in
      RedisConnection(
        address: .tcp(host: node.host, port: node.port), configuration: sentinelConfiguration, group: group,
        logger: logger)
    }
  }

  /// The master's address, with `address`'s credentials and database.
  ///
  /// - Throws: `unavailable` when no sentinel names a master (all down, or none knows `masterName`).
  func master(for address: RedisAddress) async throws(RedisError) -> RedisAddress {
    startWatching()
    var reasons: [String] = []
    let first = preferred.load(ordering: .relaxed)
    for offset in 0..<connections.count {
      let index = (first + offset) % connections.count
      do {
        let replies = try await connections[index].send(
          authenticate + [["SENTINEL", "get-master-addr-by-name", RedisArgument(masterName)]])
        let reply = replies[replies.count - 1]
        if let refused = refusal(of: replies, at: nodes[index]) {
          reasons.append(refused)
          continue
        }
        guard let parts = reply.array, parts.count == 2, let host = parts[0].string,
          let port = parts[1].string.flatMap({ Int($0) })
        else {
          reasons.append("\(nodes[index]) answered \(reply.errorMessage ?? "that it monitors no master '\(masterName)'")")
          continue
        }
        preferred.store(index, ordering: .relaxed)
        return address.at(RedisAddress.Node(host: host, port: port))
      } catch {
        reasons.append("\(nodes[index]): \(error.message)")
      }
    }
    throw .unavailable(
      "no sentinel named the master '\(masterName)': \(reasons.joined(separator: "; "))")
  }

  /// What to fix when a sentinel refused the command after `AUTH` (the last of `replies`)
  /// for want of a password; nil when it did not.
  private func refusal(of replies: [RESPValue], at node: RedisAddress.Node) -> String? {
    guard let message = replies.last?.errorMessage, message.hasPrefix("NOAUTH") else { return nil }
    guard authenticate.isEmpty == false, let auth = replies.first?.errorMessage else {
      return "the sentinel at \(node) requires a password and none was given (\(message)): the sentinels are "
        + "sent the master's credentials, so give the deployment's password as for the master"
    }
    return "the sentinel at \(node) refused the credentials given for the master (\(auth)): the sentinels are "
      + "sent the master's user name and password, so configure the sentinels with the same "
      + "(requirepass, or that ACL user) or with no password"
  }

  // MARK: - +switch-master

  /// Runs `handler` whenever the sentinels announce a new master for ``masterName``.
  func onSwitch(_ handler: @escaping @Sendable () -> Void) {
    watch.withLock { $0.onSwitch = handler }
  }

  /// Starts the subscription, once.
  private func startWatching() {
    let start = watch.withLock { watch -> Bool in
      guard !watch.started, !watch.closed else { return false }
      watch.started = true
      return true
    }
    guard start else { return }
    let task = Task { await self.watchSwitches() }
    watch.withLock { watch in
      if watch.closed { task.cancel() } else { watch.task = task }
    }
  }

  /// Keeps one sentinel subscribed, moving to the next when it drops, until shut down.
  private func watchSwitches() async {
    var next = 0
    var failures = 0
    while !Task.isCancelled {
      let node = nodes[next % nodes.count]
      next += 1
      do {
        let channel = try await subscribe(to: node)
        failures = 0
        try? await channel.closeFuture.get()
      } catch {
        failures += 1
        logger.debug("cannot subscribe to a sentinel", metadata: ["sentinel": "\(node)", "error": "\(error)"])
      }
      guard !Task.isCancelled else { return }
      try? await Task.sleep(for: backoff.delay(afterFailures: max(1, failures)))
    }
  }

  private func subscribe(to node: RedisAddress.Node) async throws -> any Channel {
    let address = RedisAddress.tcp(host: node.host, port: node.port)
    let logger = self.logger
    let onPush: @Sendable (RESPValue) -> Void = { [weak self] message in self?.received(message) }
    let bootstrap = RedisConnection.keepingAlive(
      ClientBootstrap(group: group).connectTimeout(.seconds(1)).channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          // No deadline: a subscription waits for messages as long as it lives.
          try channel.pipeline.syncOperations.addHandler(
            RedisChannelHandler(address: address, commandTimeout: nil, logger: logger, onPush: onPush))
        }
      })
    let channel = try await bootstrap.connect(host: node.host, port: node.port).get()
    let closed = watch.withLock { watch -> Bool in
      if !watch.closed { watch.channel = channel }
      return watch.closed
    }
    do {
      if closed { throw RedisError(code: .clientClosed, message: "the Redis client was closed") }
      let replies = try await RedisConnection.write(authenticate + [["SUBSCRIBE", "+switch-master"]], to: channel)
      if let refused = refusal(of: replies, at: node) { throw RedisError.unavailable(refused) }
      guard replies.last?.array?.first?.string == "subscribe" else {
        throw RedisError.protocolError("the sentinel at \(node) answered SUBSCRIBE with \(replies.last ?? .null)")
      }
      return channel
    } catch {
      channel.close(promise: nil)
      throw error
    }
  }

  /// A `+switch-master` message: `NAME old-host old-port new-host new-port`.
  private func received(_ message: RESPValue) {
    guard let parts = message.array, parts.count == 3, parts[0].string == "message", let text = parts[2].string
    else { return }
    let words = text.split(separator: " ")
    guard words.count == 5, words[0] == masterName else { return }
    logger.notice(
      "the sentinels switched the Redis master; reconnecting",
      metadata: ["master": "\(masterName)", "from": "\(words[1]):\(words[2])", "to": "\(words[3]):\(words[4])"])
    watch.withLock { $0.onSwitch }?()
  }

  /// Closes the connections to the sentinels.
  func shutdown() async {
    let channel = stopWatching()
    for connection in connections { await connection.shutdown() }
    try? await channel?.closeFuture.get()
  }

  /// Drops the connections to the sentinels without waiting.
  func shutdownNow() {
    _ = stopWatching()
    for connection in connections { connection.shutdownNow() }
  }

  private func stopWatching() -> (any Channel)? {
    let (task, channel) = watch.withLock { watch in
      watch.closed = true
      watch.onSwitch = nil
      return (watch.task, watch.channel)
    }
    task?.cancel()
    channel?.close(promise: nil)
    return channel
  }
}
