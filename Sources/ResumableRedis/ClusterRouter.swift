import Logging
import NIOCore
import Synchronization

/// Sends commands over a Redis Cluster: each to the master serving its key's slot, on one
/// pipelined, self-healing connection per master.
///
/// The slot map comes from `CLUSTER SLOTS`, asked of a known master or a seed node, on first
/// use and again after a `MOVED` or a lost node. A `MOVED` reply updates the slot and sends the
/// command again to the node it names; an `ASK` reply sends `ASKING` and the command to the
/// node it names, once (the slot is being migrated); `TRYAGAIN` waits a little and sends again.
/// At most ``maximumRedirections`` times per command; past them the last reply is returned.
///
/// A pipeline is cut into units: a command with a key, with the keyless commands after it
/// (`WAIT` stays with the write it waits for; a leading `SCRIPT LOAD` goes with the `EVALSHA`
/// after it). Consecutive units for one node go in one write; the writes for different nodes
/// go one after the other, in order, so a command still runs after those before it.
final class ClusterRouter: Sendable {
  /// Redirections followed per command before its reply is returned as it is.
  static let maximumRedirections = 5

  private struct Routing {
    /// The master serving each slot; empty until the first map is read.
    var owners: [RedisAddress.Node?] = []
    /// A redirection or a lost node says the map is out of date.
    var stale = false
    var lastRefresh: ContinuousClock.Instant?
    /// The refresh under way, which every caller that needs one waits for.
    var refresh: Task<String?, Never>?
    var connections: [RedisAddress.Node: RedisConnection] = [:]
    var closed = false
  }

  /// A command with a key, with the keyless commands that travel with it.
  struct Unit: Equatable {
    var range: Range<Int>
    /// The index of the command with the key; nil for a pipeline without any key.
    var keyed: Int?
    var slot: Int?
  }

  private let routing = Mutex(Routing())
  private let address: RedisAddress
  private let seeds: [RedisAddress.Node]
  private let configuration: RedisClient.Configuration
  private let group: any EventLoopGroup
  private let logger: Logger
  private let movedCount = Atomic<Int>(0)
  private let askCount = Atomic<Int>(0)

  init(
    address: RedisAddress, seeds: [RedisAddress.Node], configuration: RedisClient.Configuration,
    group: any EventLoopGroup, logger: Logger
  ) {
    self.address = address
    self.seeds = seeds
    self.configuration = configuration
    self.group = group
    self.logger = logger
  }

  /// `MOVED` and `ASK` replies followed so far.
  var redirections: (moved: Int, ask: Int) {
    (movedCount.load(ordering: .relaxed), askCount.load(ordering: .relaxed))
  }

  /// Connections established so far, to every node.
  var establishedCount: Int {
    routing.withLock { $0.connections.values.reduce(0) { $0 + $1.establishedCount } }
  }

  /// Sends `commands` and returns their replies in order (see the type's routing rules).
  func send(_ commands: [[RedisArgument]]) async throws(RedisError) -> [RESPValue] {
    try await refreshIfNeeded()
    let units = Self.units(commands)
    var replies = [RESPValue](repeating: .null, count: commands.count)
    var first = 0
    while first < units.count {
      let node = try owner(of: units[first])
      var end = first + 1
      while end < units.count, try owner(of: units[end]) == node { end += 1 }
      let batch = units[first..<end]
      let got = try await send(batch.flatMap { commands[$0.range] }, to: node)
      var offset = 0
      for unit in batch {
        var unitReplies = Array(got[offset..<(offset + unit.range.count)])
        offset += unit.range.count
        unitReplies = try await followRedirections(unit, Array(commands[unit.range]), unitReplies)
        replies.replaceSubrange(unit.range, with: unitReplies)
      }
      first = end
    }
    return replies
  }

  /// Sends `unit` again while its keyed command's reply is a redirection.
  private func followRedirections(_ unit: Unit, _ commands: [[RedisArgument]], _ replies: [RESPValue])
    async throws(RedisError) -> [RESPValue]
  {
    guard let keyed = unit.keyed.map({ $0 - unit.range.lowerBound }) else { return replies }
    var replies = replies
    for attempt in 0..<Self.maximumRedirections {
      guard let message = replies[keyed].errorMessage else { return replies }
      let words = message.split(separator: " ")
      switch words.first {
      case "MOVED" where words.count == 3:
        movedCount.add(1, ordering: .relaxed)
        RedisMetrics.redirected("moved")
        let node = try self.node(words[2])
        if let slot = Int(words[1]) { moved(slot: slot, to: node) }
        replies = try await send(commands, to: node)
      case "ASK" where words.count == 3:
        askCount.add(1, ordering: .relaxed)
        RedisMetrics.redirected("ask")
        var asking = commands
        asking.insert(["ASKING"], at: keyed)
        var answered = try await send(asking, to: try self.node(words[2]))
        answered.remove(at: keyed)
        replies = answered
      case "TRYAGAIN":
        // A multi-key command while its slot is being migrated: in a moment it is whole again.
        try? await Task.sleep(for: .milliseconds(10 * (attempt + 1)))
        replies = try await send(commands, to: try owner(of: unit))
      default:
        return replies
      }
    }
    return replies
  }

  private func send(_ commands: [[RedisArgument]], to node: RedisAddress.Node) async throws(RedisError)
    -> [RESPValue]
  {
    do {
      return try await connection(to: node).send(commands)
    } catch {
      // The node may have failed over or left: read the map again before the next command.
      routing.withLock { $0.stale = true }
      throw error
    }
  }

  private func connection(to node: RedisAddress.Node) throws(RedisError) -> RedisConnection {
    let connection = routing.withLock { routing -> RedisConnection? in
      guard !routing.closed else { return nil }
      if let existing = routing.connections[node] { return existing }
      let created = RedisConnection(
        address: address.at(node), configuration: configuration, group: group, logger: logger)
      routing.connections[node] = created
      return created
    }
    guard let connection else {
      throw RedisError(code: .clientClosed, message: "the Redis client for \(address) was closed")
    }
    return connection
  }

  /// The node a unit goes to: its slot's master; any master for a keyless pipeline.
  private func owner(of unit: Unit) throws(RedisError) -> RedisAddress.Node {
    let node = routing.withLock { routing -> RedisAddress.Node? in
      guard let slot = unit.slot else { return routing.owners.lazy.compactMap { $0 }.first ?? seeds.first }
      return slot < routing.owners.count ? routing.owners[slot] : nil
    }
    guard let node else {
      throw .unavailable("no node of the Redis Cluster at \(address) serves slot \(unit.slot ?? -1)")
    }
    return node
  }

  private func moved(slot: Int, to node: RedisAddress.Node) {
    routing.withLock { routing in
      if slot >= 0, slot < routing.owners.count { routing.owners[slot] = node }
      routing.stale = true
    }
  }

  /// `host:port` from a redirection; an empty host (a node that does not know its own
  /// address) is the first seed's host.
  private func node(_ text: Substring) throws(RedisError) -> RedisAddress.Node {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else {
      throw .protocolError("a redirection names no node: '\(text)'")
    }
    var host = String(text[..<colon])
    if host.isEmpty { host = seeds.first?.host ?? "127.0.0.1" }
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return RedisAddress.Node(host: host, port: port)
  }

  // MARK: - The slot map

  /// Reads the slot map when there is none, or when it is stale (at most every 100 ms).
  private func refreshIfNeeded() async throws(RedisError) {
    let now = ContinuousClock.now
    let refresh = routing.withLock { routing -> Task<String?, Never>? in
      if let running = routing.refresh { return running }
      let due = routing.owners.isEmpty || (routing.stale && routing.lastRefresh.map { now - $0 > .milliseconds(100) } ?? true)
      guard due, !routing.closed else { return nil }
      routing.lastRefresh = now
      let task = Task { await self.readSlotMap() }
      routing.refresh = task
      return task
    }
    guard let refresh else { return }
    let problem = await refresh.value
    if let problem, routing.withLock({ $0.owners.isEmpty }) { throw .unavailable(problem) }
  }

  /// Asks the known masters, then the seeds, for `CLUSTER SLOTS`; installs the first
  /// answer. Returns what went wrong when nobody answered.
  private func readSlotMap() async -> String? {
    defer { routing.withLock { $0.refresh = nil } }
    var candidates = routing.withLock { Array(Set($0.owners.compactMap { $0 })) }
    candidates += seeds.filter { !candidates.contains($0) }
    var problems: [String] = []
    for node in candidates {
      do {
        let reply = try await connection(to: node).send([["CLUSTER", "SLOTS"]])[0]
        if let message = reply.errorMessage {
          problems.append(
            message.contains("cluster support disabled")
              ? "\(node) is not a node of a Redis Cluster (use a redis:// URL)" : "\(node) answered \(message)")
          continue
        }
        let owners = try Self.owners(fromSlots: reply, askedAt: node)
        routing.withLock { routing in
          routing.owners = owners
          routing.stale = false
        }
        logger.debug("read the cluster's slot map", metadata: ["from": "\(node)"])
        return nil
      } catch {
        problems.append("\(node): \(error.message)")
      }
    }
    let problem = "cannot read the slot map of the Redis Cluster at \(address): \(problems.joined(separator: "; "))"
    logger.warning("\(problem)")
    return problem
  }

  /// The master of every slot, from a `CLUSTER SLOTS` reply: `[start, end, [host, port, id],
  /// replicas…]` per range.
  static func owners(fromSlots reply: RESPValue, askedAt asked: RedisAddress.Node) throws(RedisError)
    -> [RedisAddress.Node?]
  {
    guard let ranges = reply.array, !ranges.isEmpty else {
      throw .protocolError("CLUSTER SLOTS gave no slots: \(reply)")
    }
    var owners = [RedisAddress.Node?](repeating: nil, count: RedisHashSlot.count)
    for range in ranges {
      guard let parts = range.array, parts.count >= 3, let start = parts[0].int, let end = parts[1].int,
        let master = parts[2].array, master.count >= 2, let port = master[1].int,
        0 <= start, start <= end, end < RedisHashSlot.count
      else {
        throw .protocolError("unexpected CLUSTER SLOTS entry: \(range)")
      }
      let host = master[0].string.flatMap { $0.isEmpty ? nil : $0 } ?? asked.host
      let node = RedisAddress.Node(host: host, port: Int(port))
      for slot in Int(start)...Int(end) { owners[slot] = node }
    }
    return owners
  }

  // MARK: - Keys

  /// Cuts a pipeline into units (see the type's documentation).
  static func units(_ commands: [[RedisArgument]]) -> [Unit] {
    var units: [Unit] = []
    for (index, command) in commands.enumerated() {
      if let key = key(of: command) {
        let start = units.isEmpty ? 0 : index
        units.append(Unit(range: start..<(index + 1), keyed: index, slot: RedisHashSlot.of(key)))
      } else if !units.isEmpty {
        units[units.count - 1].range = units[units.count - 1].range.lowerBound..<(index + 1)
      }
    }
    if units.isEmpty { return [Unit(range: 0..<commands.count, keyed: nil, slot: nil)] }
    return units
  }

  /// Commands that name no key: they travel with the keyed command before (or after) them.
  private static let keyless: Set<String> = [
    "ASKING", "AUTH", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DBSIZE", "ECHO", "EXEC", "FLUSHALL",
    "FLUSHDB", "HELLO", "INFO", "MULTI", "PING", "PUBLISH", "READONLY", "READWRITE", "ROLE", "SCRIPT",
    "SELECT", "SLOWLOG", "TIME", "WAIT", "DISCARD", "MEMORY", "LATENCY",
  ]

  /// The key a command is routed by: the first key of a script, else its first argument.
  static func key(of command: [RedisArgument]) -> [UInt8]? {
    guard let first = command.first else { return nil }
    let name = String(decoding: first.bytes, as: UTF8.self).uppercased()
    switch name {
    case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
      guard command.count > 3, let count = Int(String(decoding: command[2].bytes, as: UTF8.self)), count > 0
      else { return nil }
      return command[3].bytes
    default:
      guard !keyless.contains(name), command.count > 1 else { return nil }
      return command[1].bytes
    }
  }

  /// Closes every node's connection.
  func shutdown() async {
    for connection in closeAll() { await connection.shutdown() }
  }

  /// Closes every node's connection without waiting.
  func shutdownNow() {
    for connection in closeAll() { connection.shutdownNow() }
  }

  private func closeAll() -> [RedisConnection] {
    routing.withLock { routing in
      routing.closed = true
      routing.refresh?.cancel()
      return Array(routing.connections.values)
    }
  }
}
