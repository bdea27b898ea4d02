import Logging
import ResumableRedis
import Synchronization

/// Whether Redis may evict one key of a run alone, and what `Health` says about it.
///
/// Every key of a run has a TTL, so under a `volatile-*` policy (and any `allkeys-*` one)
/// a full Redis may evict a lease or an artifact while the rest of the run stays: a second
/// runner takes the run over, or a step's input vanishes. Only `noeviction` (writes are
/// refused when full, which the engine rides out) keeps a run whole.
///
/// The policy is read at start and again after every reconnect (the Redis behind the
/// address may have restarted or failed over), lazily: by the next `Health`.
final class EvictionPolicyCheck: Sendable {
  /// The policy read on the client's `connections`-th connection, and its warning.
  private struct Reading {
    var connections: Int
    var warning: String?
  }

  private let client: RedisClient
  private let logger: Logger
  private let last = Mutex<Reading?>(nil)

  init(client: RedisClient, logger: Logger) {
    self.client = client
    self.logger = logger
  }

  /// The warning for the policy Redis has now; nil for `noeviction`, or when Redis does
  /// not answer (there is no policy to judge then, and `Health` says why already).
  ///
  /// A warning that is new (at start, or after a reconnect found another policy) is logged.
  func warning() async -> String? {
    let connections = client.establishedConnections
    let previous = last.withLock { $0 }
    if let previous, previous.connections == connections { return previous.warning }
    let warning: String?
    do {
      let policy = try await client.maxmemoryPolicy()
      warning =
        policy == "noeviction"
        ? nil
        : "Redis' maxmemory-policy is \(policy): when full it may evict one key of a run alone "
          + "(a lease, an artifact) and break the run; set maxmemory-policy noeviction"
    } catch where error.code == .server {
      warning =
        "cannot read Redis' maxmemory-policy (\(error.message)); make sure it is noeviction, "
        + "or a full Redis may evict one key of a run alone"
    } catch {
      return previous?.warning
    }
    last.withLock { $0 = Reading(connections: connections, warning: warning) }
    if let warning, warning != previous?.warning { logger.warning("\(warning)") }
    return warning
  }
}
