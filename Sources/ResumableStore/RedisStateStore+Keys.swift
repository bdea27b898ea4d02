extension RedisStateStore {
  /// The Redis keys of run `workflowID` (run, steps, artifacts, events,
  /// lease), for tools that measure or inspect what a run stores.
  public func keyNames(workflowID: String) -> [String] {
    RunKeys(prefix: keyPrefix, workflowID: workflowID).scriptKeys
  }

  /// The recovery index bucket (a sorted set) that holds run `workflowID`
  /// while it may need recovering, for tools and tests that inspect it.
  public static func recoveryIndexKey(keyPrefix: String, workflowID: String) -> String {
    RunKeys.recoveryIndex(prefix: keyPrefix, bucket: RunKeys.bucket(of: workflowID))
  }

  /// The run list bucket (a sorted set by creation time) that lists run `workflowID`.
  public static func runListKey(keyPrefix: String, workflowID: String) -> String {
    RunKeys.runsIndex(prefix: keyPrefix, bucket: RunKeys.bucket(of: workflowID))
  }

  /// Every bucket of the run list, in order.
  public static func runListKeys(keyPrefix: String) -> [String] {
    (0..<RunKeys.bucketCount).map { RunKeys.runsIndex(prefix: keyPrefix, bucket: $0) }
  }

  /// The hash (a bucket by name) that holds the workflow `name` registered in code.
  public static func registeredWorkflowsKey(keyPrefix: String, name: String) -> String {
    RunKeys.registeredWorkflows(prefix: keyPrefix, bucket: RunKeys.bucket(of: name))
  }
}
