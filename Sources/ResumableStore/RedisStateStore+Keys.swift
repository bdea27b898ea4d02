extension RedisStateStore {
  /// The Redis keys of run `workflowID` (run, steps, artifacts, events,
  /// lease), for tools that measure or inspect what a run stores.
  public func keyNames(workflowID: String) -> [String] {
    RunKeys(prefix: keyPrefix, workflowID: workflowID).scriptKeys
  }
}
