import Logging
import NIOCore
import NIOPosix
import ResumableSocket
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// One lazily connected, self-healing Redis connection shared by every caller.
///
/// States: `disconnected` → (a command arrives, backoff elapsed) → `connecting` → `connected`
/// → (socket closes) → `disconnected` with no backoff, so the next command reconnects at
/// once. A failed connect moves to `disconnected` with a retry time that doubles with each
/// consecutive failure (``RedisClient/Configuration/Backoff``); until then commands fail
/// fast with `unavailable` instead of hammering a Redis that is down.
///
/// Behind a Sentinel address, each connect first asks the sentinels for the master and
/// checks with `ROLE` that the node is one; a `READONLY` or `LOADING` reply (the node was
/// demoted, or restarted) drops the connection, so the next command asks again.
final class RedisConnection: Sendable {
  private enum State {
    case disconnected(failures: Int, retryAt: ContinuousClock.Instant?, lastError: String?)
    case connecting(EventLoopFuture<any Channel>, failures: Int)
    case connected(any Channel)
    case shutDown
  }

  private enum Action {
    case use(any Channel)
    case wait(EventLoopFuture<any Channel>)
    case connect(EventLoopPromise<any Channel>, failures: Int)
    case fail(RedisError)
  }

  private let state = Mutex(State.disconnected(failures: 0, retryAt: nil, lastError: nil))
  /// Connections established so far, first connect and reconnects.
  private let established = Atomic<Int>(0)
  private let address: RedisAddress
  private let configuration: RedisClient.Configuration
  private let group: any EventLoopGroup
  /// The event loop every channel of this connection runs on, when pinned to one.
  let eventLoop: (any EventLoop)?
  private let logger: Logger
  /// Finds the master when `address` is a Sentinel address.
  private let sentinel: SentinelResolver?

  init(
    address: RedisAddress, configuration: RedisClient.Configuration, group: any EventLoopGroup,
    logger: Logger, sentinel: SentinelResolver? = nil
  ) {
    self.address = address
    self.sentinel = sentinel
    self.configuration = configuration
    self.group = group
    self.eventLoop = group as? any EventLoop
    self.logger = logger
  }

  /// Sends `commands` in one write and returns their replies in order.
  ///
  /// A request that provably never reached the socket (the connection closed just before)
  /// is sent once more on a fresh connection; it then fails as `unavailable`.
  func send(_ commands: [[RedisArgument]]) async throws(RedisError) -> [RESPValue] {
    var retried = false
    while true {
      let channel = try await self.channel()
      do {
        let replies = try await Self.write(commands, to: channel)
        if sentinel != nil { dropIfNotTheMaster(channel, replies) }
        return replies
      } catch {
        guard error.wasNotSent else { throw error }
        if retried { throw RedisError.unavailable(error.message, cause: error.cause) }
        retried = true
        markClosed(channel)
      }
    }
  }

  /// Closes `channel` when `replies` say its server is no master any more
  /// (sync: the log line's temporaries stay out of `send`'s async frame, which
  /// every caller's task allocator keeps).
  @inline(never)
  private func dropIfNotTheMaster(_ channel: any Channel, _ replies: [RESPValue]) {
    guard let stale = replies.first(where: Self.meansNotTheMaster) else { return }
    // Demoted in a failover, or restarted: ask the sentinels again on the next command.
    logger.warning(
      "the Redis master answered as no master does; asking the sentinels again",
      metadata: ["address": "\(address)", "reply": "\(stale.errorMessage ?? "")"])
    markClosed(channel)
    channel.close(promise: nil)
  }

  /// `READONLY` (a replica now) or `LOADING` (restarted, reading its data).
  private static func meansNotTheMaster(_ reply: RESPValue) -> Bool {
    guard let message = reply.errorMessage else { return false }
    return message.hasPrefix("READONLY") || message.hasPrefix("LOADING")
  }

  static func write(_ commands: [[RedisArgument]], to channel: any Channel) async throws(RedisError)
    -> [RESPValue]
  {
    let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
    channel.writeAndFlush(RedisRequest(commands: commands, promise: promise)).whenFailure { error in
      // The handler never saw the request (see `RedisChannelHandler`), so nothing was sent.
      var lost = RedisError.connectionLost(
        "the connection to Redis closed before the command was sent", cause: error)
      lost.wasNotSent = true
      promise.fail(lost)
    }
    do {
      return try await promise.futureResult.get()
    } catch let error as RedisError {
      throw error
    } catch {
      throw .connectionLost("unexpected failure on the Redis connection: \(RedisError.reason(error))", cause: error)
    }
  }

  /// A connected channel: the current one, the one being connected, or a new one.
  private func channel() async throws(RedisError) -> any Channel {
    let now = ContinuousClock.now
    let action = state.withLock { state -> Action in
      switch state {
      case .connected(let channel) where channel.isActive:
        return .use(channel)
      case .connected:
        // Closed, and the close callback has not run yet: reconnect right away.
        return startConnecting(&state, failures: 0)
      case .connecting(let future, _):
        return .wait(future)
      case .disconnected(let failures, let retryAt, let lastError):
        if let retryAt, now < retryAt {
          let wait = (retryAt - now).roundedMilliseconds
          return .fail(
            .unavailable(
              "Redis at \(address) is unavailable: \(lastError ?? "not connected"); "
                + "next reconnect attempt in \(wait) ms"))
        }
        return startConnecting(&state, failures: failures)
      case .shutDown:
        return .fail(
          RedisError(code: .clientClosed, message: "the Redis client for \(address) was closed"))
      }
    }
    let future: EventLoopFuture<any Channel>
    switch action {
    case .use(let channel): return channel
    case .fail(let error): throw error
    case .wait(let pending): future = pending
    case .connect(let promise, let failures):
      connect(promise: promise, failures: failures)
      future = promise.futureResult
    }
    do {
      return try await future.get()
    } catch let error as RedisError {
      throw error
    } catch {
      throw .unavailable("Redis at \(address) is unavailable: \(RedisError.reason(error))", cause: error)
    }
  }

  private func startConnecting(_ state: inout State, failures: Int) -> Action {
    let promise = group.next().makePromise(of: (any Channel).self)
    state = .connecting(promise.futureResult, failures: failures)
    return .connect(promise, failures: failures)
  }

  private func connect(promise: EventLoopPromise<any Channel>, failures: Int) {
    logger.debug(
      "connecting to Redis", metadata: ["address": "\(address)", "failures": "\(failures)"])
    let eventLoop = promise.futureResult.eventLoop
    let made: EventLoopFuture<any Channel>
    if let sentinel {
      let resolved = eventLoop.makePromise(of: RedisAddress.self)
      let address = self.address
      resolved.completeWithTask { try await sentinel.master(for: address) }
      made = resolved.futureResult.flatMap { master in
        self.makeChannel(to: master, requireMaster: true, on: eventLoop)
      }
    } else {
      made = makeChannel(to: address, requireMaster: false, on: eventLoop)
    }
    made.whenComplete { result in
      switch result {
      case .success(let channel):
        let kept = self.state.withLock { state in
          guard case .connecting = state else { return false }
          state = .connected(channel)
          return true
        }
        guard kept else {
          channel.close(promise: nil)
          promise.fail(
            RedisError(
              code: .clientClosed, message: "the Redis client for \(self.address) was closed"))
          return
        }
        channel.closeFuture.whenComplete { _ in self.markClosed(channel) }
        self.established.add(1, ordering: .relaxed)
        if failures > 0 {
          self.logger.info("reconnected to Redis", metadata: ["address": "\(self.address)"])
        }
        promise.succeed(channel)
      case .failure(let error):
        let reason = RedisError.reason(error)
        let delay = self.configuration.reconnectBackoff.delay(afterFailures: failures + 1)
        self.state.withLock { state in
          guard case .connecting = state else { return }
          state = .disconnected(failures: failures + 1, retryAt: .now + delay, lastError: reason)
        }
        self.logger.warning(
          "cannot connect to Redis",
          metadata: [
            "address": "\(self.address)", "error": "\(reason)",
            "retry_in_ms": "\(delay.roundedMilliseconds)",
          ])
        promise.fail(
          RedisError.unavailable("Redis at \(self.address) is unavailable: \(reason)", cause: error)
        )
      }
    }
  }

  /// Forgets `channel` if it is the current one; the next command reconnects immediately.
  private func markClosed(_ channel: any Channel) {
    state.withLock { state in
      if case .connected(let current) = state, current === channel {
        state = .disconnected(failures: 0, retryAt: nil, lastError: "the connection was closed")
      }
    }
  }

  /// Connects to `address` (a single server), installs the RESP handler, then authenticates,
  /// selects the database and, with `requireMaster`, checks the node's `ROLE`.
  private func makeChannel(to address: RedisAddress, requireMaster: Bool, on eventLoop: any EventLoop)
    -> EventLoopFuture<any Channel>
  {
    let logger = self.logger
    let commandTimeout = configuration.commandTimeout
    let bootstrap = ClientBootstrap(group: eventLoop)
      .connectTimeout(TimeAmount(configuration.connectTimeout))
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          // Requests that many tasks write in one tick reach Redis in one read.
          try channel.pipeline.syncOperations.addHandler(FlushCoalescer())
          try channel.pipeline.syncOperations.addHandler(
            RedisChannelHandler(address: address, commandTimeout: commandTimeout, logger: logger))
        }
      }
    let connected: EventLoopFuture<any Channel>
    switch address.endpoint {
    case .tcp(let host, let port):
      connected = Self.keepingAlive(bootstrap).connect(host: host, port: port)
    case .unix(let path): connected = bootstrap.connect(unixDomainSocketPath: path)
    case .sentinel, .cluster:
      return eventLoop.makeFailedFuture(
        RedisError(code: .invalidCommand, message: "\(address) names no single server to connect to"))
    }
    return connected.flatMap { channel in self.handshake(channel, address: address, requireMaster: requireMaster) }
  }

  /// TCP keepalive probes after this long idle, ...
  static let keepaliveIdle = 10
  /// ... this far apart, ...
  static let keepaliveInterval = 5
  /// ... and the connection is dropped after this many unanswered ones (about 25 s in all).
  static let keepaliveProbes = 3

  /// `bootstrap` with TCP keepalive on: an idle connection whose peer vanished (a host
  /// that died, a network path that broke, no RST ever sent) is noticed and closed by the
  /// kernel, instead of waiting for the next command's deadline.
  static func keepingAlive(_ bootstrap: ClientBootstrap) -> ClientBootstrap {
    bootstrap
      .channelOption(.socketOption(.so_keepalive), value: 1)
      .channelOption(.tcpOption(.init(rawValue: TCP_KEEPIDLE)), value: keepaliveIdle)
      .channelOption(.tcpOption(.init(rawValue: TCP_KEEPINTVL)), value: keepaliveInterval)
      .channelOption(.tcpOption(.init(rawValue: TCP_KEEPCNT)), value: keepaliveProbes)
  }

  private func handshake(_ channel: any Channel, address: RedisAddress, requireMaster: Bool)
    -> EventLoopFuture<any Channel>
  {
    var commands: [[RedisArgument]] = []
    if let auth = address.authCommand { commands.append(auth) }
    if address.database != 0 {
      commands.append(["SELECT", RedisArgument(address.database)])
    }
    if requireMaster { commands.append(["ROLE"]) }
    guard !commands.isEmpty else { return channel.eventLoop.makeSucceededFuture(channel) }
    let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
    let timeout = channel.eventLoop.scheduleTask(in: TimeAmount(configuration.connectTimeout)) {
      channel.pipeline.fireErrorCaught(
        RedisError.unavailable("Redis did not answer AUTH/SELECT within the connect timeout"))
    }
    channel.writeAndFlush(RedisRequest(commands: commands, promise: promise)).cascadeFailure(
      to: promise)
    // Only the command names go into messages: AUTH's arguments hold the password.
    let names = commands.map { String(decoding: $0[0].bytes, as: UTF8.self) }
    return promise.futureResult.flatMapThrowing { replies in
      for (name, reply) in zip(names, replies) {
        if case .error(let message) = reply {
          throw RedisError.unavailable("\(name) was refused: \(message)")
        }
        if name == "ROLE", let role = reply.array?.first?.string, role != "master" {
          // The sentinels' answer is stale (a failover is under way): ask again after the backoff.
          throw RedisError.unavailable("\(address) is a \(role), not the master; a failover may be under way")
        }
      }
      return channel
    }.always { result in
      timeout.cancel()
      if case .failure = result { channel.close(promise: nil) }
    }
  }

  /// Drops the current connection, if any, so the next command connects anew (behind
  /// Sentinel: asks for the master again). Commands in flight on it fail with `connectionLost`.
  func reconnect() {
    let channel = state.withLock { state -> (any Channel)? in
      guard case .connected(let channel) = state else { return nil }
      state = .disconnected(failures: 0, retryAt: nil, lastError: "the master changed")
      return channel
    }
    channel?.close(promise: nil)
  }

  /// How many times a connection was established (handshake done): grows with each reconnect.
  var establishedCount: Int { established.load(ordering: .relaxed) }

  /// Closes the connection; commands in flight fail with `connectionLost`, later ones with
  /// `clientClosed`.
  func shutdown() async {
    let channel = shutdownNow()
    try? await channel?.closeFuture.get()
  }

  /// Like `shutdown()` without waiting; returns the channel being closed, if any.
  @discardableResult
  func shutdownNow() -> (any Channel)? {
    let previous = state.withLock { state in
      defer { state = .shutDown }
      return state
    }
    guard case .connected(let channel) = previous else { return nil }
    channel.close(promise: nil)
    return channel
  }
}

extension Duration {
  /// Seconds for messages: `3 s`, `0.5 s`, `0.25 s` (to the millisecond).
  var secondsText: String {
    let milliseconds = roundedMilliseconds
    let fraction = milliseconds % 1000
    guard fraction != 0 else { return "\(milliseconds / 1000) s" }
    var digits = String(fraction + 1000).dropFirst()  // Three digits, leading zeros kept.
    while digits.last == "0" { digits = digits.dropLast() }
    return "\(milliseconds / 1000).\(digits) s"
  }

  /// Whole milliseconds, rounded up, for messages.
  var roundedMilliseconds: Int64 {
    let (seconds, attoseconds) = components
    return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
  }
}
