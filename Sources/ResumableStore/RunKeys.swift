import ResumableRedis

/// The Redis keys of one run.
///
/// Every key carries the run's id as a hash tag (`prefix:{id}:part`), so a run
/// lives in one Redis Cluster slot and every script touching it is cluster-safe.
/// The order of `scriptKeys` is the `KEYS` order every script expects.
struct RunKeys {
  /// The parts of a run: each key is `prefix:{id}:` and the part's name, and the
  /// parts' order is the `KEYS` order every script expects (`scriptKeys`).
  enum Part: String, CaseIterable {
    case run, steps, artifacts, events, lease, history
  }

  /// KEYS[1…6] of the scripts: one key per `Part`, in its order.
  let scriptKeys: [String]

  init(prefix: String, workflowID: String) {
    scriptKeys = Self.scriptKeyBytes(prefix: prefix, workflowID: workflowID).map { String(decoding: $0, as: UTF8.self) }
  }

  /// `scriptKeys` as the bytes sent to Redis, built without a `String` each:
  /// every script call of a run sends them.
  static func scriptKeyBytes(prefix: String, workflowID: String) -> [[UInt8]] {
    var base: [UInt8] = []
    base.reserveCapacity(prefix.utf8.count + workflowID.utf8.count + 4)
    base.append(contentsOf: prefix.utf8)
    base.append(contentsOf: ":{".utf8)
    base.append(contentsOf: workflowID.utf8)
    base.append(contentsOf: "}:".utf8)
    return Part.allCases.map { base + $0.rawValue.utf8 }
  }

  /// Hash: status, cursor, fence, ledger, definition snapshot, input, times.
  var run: String { self[.run] }
  /// Hash: step name → the step's record (JSON).
  var steps: String { self[.steps] }
  /// Hash: step name → the step's artifact (bytes).
  var artifacts: String { self[.artifacts] }
  /// Stream: progress events.
  var events: String { self[.events] }
  /// String: the fencing token of the runner holding the lease (own expiry).
  var lease: String { self[.lease] }
  /// List: the run's message history (JSON per message), appended with
  /// RPUSH and trimmed from the oldest end with LTRIM; never rewritten.
  var history: String { self[.history] }

  /// The key of `part` (every part is among `allCases`).
  subscript(part: Part) -> String { scriptKeys[Part.allCases.firstIndex(of: part)!] }

  /// How many buckets each index of a deployment is split into. Fixed: a
  /// run's bucket is part of the key layout (changing it moves every entry).
  static let bucketCount = 16

  /// The bucket of run (or registered workflow) `id`: spread like the slots are.
  static func bucket(of id: String) -> Int { RedisHashSlot.of(id) % bucketCount }

  /// Bucket `bucket`'s hash tag, `{b07}`: every key of a bucket lives in one
  /// Redis Cluster slot, and the buckets of an index spread over the masters.
  static func bucketTag(_ bucket: Int) -> String { bucket < 10 ? "{b0\(bucket)}" : "{b\(bucket)}" }

  /// The recovery index of a deployment, bucket `bucket`: a sorted set of
  /// workflow ids, each scored with the time (ms since the epoch) its run's
  /// lease may have lapsed. It spans runs, so it has no run's hash tag and is
  /// only ever written by plain commands or single-key scripts, never inside
  /// a run's scripts (cluster rule).
  static func recoveryIndex(prefix: String, bucket: Int) -> String { "\(prefix):recovery:\(bucketTag(bucket))" }

  /// Every run of a deployment, bucket `bucket`: a sorted set of workflow ids
  /// scored with their creation time (ms), merged newest first by `listRuns`.
  /// Like the recovery index, written only by plain commands pipelined with a
  /// run's script.
  static func runsIndex(prefix: String, bucket: Int) -> String { "\(prefix):runs:\(bucketTag(bucket))" }

  /// The workflows registered in code, bucket `bucket` (by workflow name): a hash.
  static func registeredWorkflows(prefix: String, bucket: Int) -> String {
    "\(prefix):workflows:\(bucketTag(bucket))"
  }

  /// The keys of the indexes before they had buckets (`PREFIX:recovery`,
  /// `PREFIX:runs`, `PREFIX:workflows`): read once to move their entries.
  static func unbucketed(prefix: String) -> (recovery: String, runs: String, workflows: String) {
    ("\(prefix):recovery", "\(prefix):runs", "\(prefix):workflows")
  }
}
