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
  private let logger: Logger

  init(
    address: RedisAddress, configuration: RedisClient.Configuration, group: any EventLoopGroup,
    logger: Logger
  ) {
    self.address = address
    self.configuration = configuration
    self.group = group
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
        return try await Self.write(commands, to: channel)
      } catch {
        guard error.wasNotSent else { throw error }
        if retried { throw RedisError.unavailable(error.message, cause: error.cause) }
        retried = true
        markClosed(channel)
      }
    }
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
    makeChannel(on: promise.futureResult.eventLoop).whenComplete { result in
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

  /// Connects, installs the RESP handler, then authenticates and selects the database.
  private func makeChannel(on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
    let address = self.address
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
    }
    return connected.flatMap { channel in self.handshake(channel) }
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
  private static func keepingAlive(_ bootstrap: ClientBootstrap) -> ClientBootstrap {
    bootstrap
      .channelOption(.socketOption(.so_keepalive), value: 1)
      .channelOption(.tcpOption(.init(rawValue: TCP_KEEPIDLE)), value: keepaliveIdle)
      .channelOption(.tcpOption(.init(rawValue: TCP_KEEPINTVL)), value: keepaliveInterval)
      .channelOption(.tcpOption(.init(rawValue: TCP_KEEPCNT)), value: keepaliveProbes)
  }

  private func handshake(_ channel: any Channel) -> EventLoopFuture<any Channel> {
    var commands: [[RedisArgument]] = []
    if let password = address.password {
      commands.append(
        ["AUTH"] + (address.username.map { [RedisArgument($0)] } ?? []) + [RedisArgument(password)])
    }
    if address.database != 0 {
      commands.append(["SELECT", RedisArgument(address.database)])
    }
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
      }
      return channel
    }.always { result in
      timeout.cancel()
      if case .failure = result { channel.close(promise: nil) }
    }
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
