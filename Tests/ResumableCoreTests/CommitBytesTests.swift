import Foundation
import ResumableCore
import ResumableRedis
@testable import ResumableStore
import ResumableTestSupport
import Testing

/// A step commit costs O(size of that step's output), whatever the step's
/// position: measured on the wire, over a real 50-step run whose history and
/// artifacts grow with every step.
@Suite("Engine: bytes per commit")
struct CommitBytesTests {
  static let steps = 50
  static let artifactBytes = 2048

  /// 50 steps, each reading the previous step's 2 KB artifact and the last
  /// 5 history messages, and appending a 200-byte message to the history.
  static func yaml() -> String {
    var text = "workflows:\n  - name: warmup\n    steps:\n      - {name: only, plugin: echo}\n  - name: long\n    steps:\n"
    let message = String(repeating: "m", count: 191)
    for index in 1...steps {
      let inputs = index == 1 ? "input" : "s\(index - 1)"
      text += """
              - name: s\(index)
                plugin: simulate
                inputs: [\(inputs)]
                history: {last: 5}
                config: {artifact_bytes: \(artifactBytes), append_history: [{role: assistant, content: \(message)}]}

        """
    }
    return text
  }

  @Test func eachCommitSendsAboutItsOwnOutputWhateverTheStep() async throws {
    try await withTestRedis { redis in
      try await withTemporaryDirectory { directory in
        let tap = try await RedisWireTap.start(
          socketPath: directory.appending("tap.sock"), forwardingTo: try #require(redis.address.unixSocketPath))
        defer { Task { await tap.close() } }
        try await EngineHarness.with(
          redis: redis, yaml: Self.yaml(), address: tap.address,
          configure: { $0.leaseDuration = .seconds(600) }  // no lease renewal in the measurement
        ) { harness in
          // Load the scripts first, so no commit below carries a SCRIPT LOAD.
          _ = try await harness.run("warmup", id: "warmup")
          tap.reset()
          let record = try await harness.run("long", id: "long-1")
          #expect(record.status == .completed)
          #expect(record.historyLength == Self.steps)

          let commits = tap.commands.filter { $0.name == "EVALSHA" && $0.text(1) == Scripts.commit.sha1 }
          // EVALSHA sha numkeys key×6 then ARGV: the step's name is ARGV[4].
          #expect(commits.map { $0.text(2 + 6 + 4) } == (1...Self.steps).map { "s\($0)" })
          let bytes = commits.map(\.bytes)
          try #require(bytes.count == Self.steps)
          print("bytes per commit (\(Self.artifactBytes)-byte artifacts, 200-byte history messages): step 1 = \(bytes[0]), step 10 = \(bytes[9]), step 50 = \(bytes[49]); min \(bytes.min()!), max \(bytes.max()!)")
          // Each commit carries its artifact and message, plus a bounded
          // overhead (keys, step records, event) — never earlier steps'
          // artifacts or the history so far (by step 50: 100 KB and 10 KB).
          let output = Self.artifactBytes + 200
          #expect(bytes.allSatisfy { $0 > output && $0 < output + 1536 }, "\(bytes)")
          // Steps 1-49 also begin the next step (its record); the last one does not.
          let begins = bytes.dropLast()
          #expect(begins.max()! - begins.min()! <= 64, "commits do not grow with the run: \(bytes)")
          #expect(bytes[49] <= begins.min()!)
          // Reading inputs and history is not part of the commit: no command
          // rewrites the history or the artifacts.
          #expect(!tap.commands.contains { ["DEL", "LSET", "RENAME"].contains($0.name) })
        }
      }
    }
  }
}
