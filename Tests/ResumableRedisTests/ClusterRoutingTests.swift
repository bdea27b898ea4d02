import ResumableTestSupport
import Testing

@testable import ResumableRedis

/// Slots, routing and redirections against a real 3-master cluster.
@Suite("Cluster routing")
struct ClusterRoutingTests {
  @Test func slotsAreRedisClusters() {
    // The reference values of the Redis Cluster specification.
    #expect(RedisHashSlot.crc16(Array("123456789".utf8)[...]) == 0x31C3)
    #expect(RedisHashSlot.of("foo") == 12182)
    #expect(RedisHashSlot.of("{user1000}.following") == RedisHashSlot.of("{user1000}.followers"))
    #expect(RedisHashSlot.of("{}x") == RedisHashSlot.of(Array("{}x".utf8)), "an empty tag hashes the whole key")
    #expect(RedisHashSlot.of("p:{run-1}:steps") == RedisHashSlot.of("run-1"))
  }

  @Test func aPipelineIsCutIntoUnitsThatKeepKeylessCommandsWithTheirWrite() {
    let units = ClusterRouter.units([
      ["ZADD", "p:recovery:{b01}", "1", "r"], ["EVALSHA", "sha", "2", "p:{r}:run", "p:{r}:steps", "x"], ["WAIT", "1", "100"],
    ])
    #expect(units.map(\.range) == [0..<1, 1..<3])
    #expect(units.map(\.keyed) == [0, 1])
    let reload = ClusterRouter.units([["SCRIPT", "LOAD", "return 1"], ["EVALSHA", "sha", "1", "k"], ["WAIT", "1", "5"]])
    #expect(reload.map(\.range) == [0..<3] && reload[0].slot == RedisHashSlot.of("k"))
    #expect(ClusterRouter.units([["PING"]]).map(\.slot) == [nil])
    #expect(ClusterRouter.key(of: ["EVALSHA", "sha", "0"]) == nil)
  }

  @Test func commandsReachTheirSlotsMasterOnAllThree() async throws {
    try await withTestCluster { cluster in
      let client = RedisClient(address: cluster.address)
      defer { Task { await client.close() } }
      let owners = try await cluster.slotOwners()
      let keys = (0..<30).map { "key-\($0)" }
      #expect(Set(keys.map { owners[RedisHashSlot.of($0)] }).count == 3, "the keys spread over the three masters")
      let sets = try await client.pipeline(keys.map { ["SET", RedisArgument($0), RedisArgument("v-\($0)")] })
      #expect(sets.allSatisfy { $0 == .simpleString("OK") }, "\(sets)")
      let gets = try await client.pipeline(keys.map { ["GET", RedisArgument($0)] })
      #expect(gets.map(\.string) == keys.map { "v-\($0)" })
      #expect(client.clusterRedirections.moved == 0 && client.clusterRedirections.ask == 0)
      // Each key is on the master its slot names, and only there.
      for key in keys.prefix(5) {
        let port = try #require(owners[RedisHashSlot.of(key)])
        let node = RedisClient(address: .tcp(host: "127.0.0.1", port: port))
        #expect(try await node.send(["EXISTS", RedisArgument(key)]).int == 1)
        await node.close()
      }
    }
  }

  @Test func aMigratingSlotIsFollowedThroughAskThenMoved() async throws {
    try await withTestCluster { cluster in
      let client = RedisClient(address: cluster.address)
      defer { Task { await client.close() } }
      let key = "{migrating}k"
      let slot = RedisHashSlot.of(key)
      #expect(try await client.send(["SET", RedisArgument(key), "before"]) == .simpleString("OK"))
      let owners = try await cluster.slotOwners()
      let source = try #require(owners[slot])
      let target = try #require(cluster.ports.first { $0 != source })
      let (sourceID, targetID) = (try await cluster.nodeID(port: source), try await cluster.nodeID(port: target))
      let sourceNode = RedisClient(address: .tcp(host: "127.0.0.1", port: source))
      let targetNode = RedisClient(address: .tcp(host: "127.0.0.1", port: target))
      defer {
        Task {
          await sourceNode.close()
          await targetNode.close()
        }
      }
      // Half-way through a migration: the key has moved, the slot not yet.
      #expect(try await targetNode.send(["CLUSTER", "SETSLOT", RedisArgument(slot), "IMPORTING", RedisArgument(sourceID)]) == .simpleString("OK"))
      #expect(try await sourceNode.send(["CLUSTER", "SETSLOT", RedisArgument(slot), "MIGRATING", RedisArgument(targetID)]) == .simpleString("OK"))
      let migrated = try await sourceNode.send(["MIGRATE", "127.0.0.1", RedisArgument(target), "", "0", "5000", "KEYS", RedisArgument(key)])
      #expect(migrated == .simpleString("OK"), "\(migrated)")
      #expect(try await client.send(["GET", RedisArgument(key)]).string == "before")
      #expect(client.clusterRedirections.ask == 1 && client.clusterRedirections.moved == 0)
      // The slot is the target's now, and the client's map says otherwise until the MOVED.
      for port in cluster.ports {
        let node = RedisClient(address: .tcp(host: "127.0.0.1", port: port))
        _ = try await node.send(["CLUSTER", "SETSLOT", RedisArgument(slot), "NODE", RedisArgument(targetID)])
        await node.close()
      }
      #expect(try await client.send(["SET", RedisArgument(key), "after"]) == .simpleString("OK"))
      #expect(client.clusterRedirections.moved == 1)
      #expect(try await targetNode.send(["GET", RedisArgument(key)]).string == "after")
      // The map was read again: no more redirections.
      #expect(try await client.send(["GET", RedisArgument(key)]).string == "after")
      #expect(client.clusterRedirections.moved == 1 && client.clusterRedirections.ask == 1)
    }
  }
}
