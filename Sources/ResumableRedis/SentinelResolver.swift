import Logging
import NIOCore
import Synchronization

/// Finds the current master of a Sentinel deployment: asks the sentinels in turn
/// (`SENTINEL get-master-addr-by-name`), the one that answered last first.
///
/// The sentinels are asked without `AUTH`: the URL's credentials are the master's.
/// Each sentinel has its own lazily connected, self-healing connection, so a sentinel
/// that is down fails fast (its reconnect backs off) and the next one is asked.
final class SentinelResolver: Sendable {
  let masterName: String
  private let nodes: [RedisAddress.Node]
  private let connections: [RedisConnection]
  /// The sentinel that answered last: asked first next time.
  private let preferred = Atomic<Int>(0)

  init(
    nodes: [RedisAddress.Node], masterName: String, configuration: RedisClient.Configuration,
    group: any EventLoopGroup, logger: Logger
  ) {
    self.masterName = masterName
    self.nodes = nodes
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
    var reasons: [String] = []
    let first = preferred.load(ordering: .relaxed)
    for offset in 0..<connections.count {
      let index = (first + offset) % connections.count
      do {
        let reply = try await connections[index].send([
          ["SENTINEL", "get-master-addr-by-name", RedisArgument(masterName)]
        ])[0]
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

  /// Closes the connections to the sentinels.
  func shutdown() async {
    for connection in connections { await connection.shutdown() }
  }

  /// Drops the connections to the sentinels without waiting.
  func shutdownNow() {
    for connection in connections { connection.shutdownNow() }
  }
}
