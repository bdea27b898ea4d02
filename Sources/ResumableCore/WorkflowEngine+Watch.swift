/// What a watch reports: the run's state first, then its events.
public enum WatchUpdate: Hashable, Sendable {
  /// The run's state when the watch began (a run still going).
  case state(RunRecord)
  /// Something that happened to the run since.
  case event(RunEventRecord)
}

extension WorkflowEngine {
  /// Follows a run through its event log in the store, so a run driven by
  /// any server sharing the store is seen: reports the run's state, then each
  /// event as it is read, until the run is COMPLETED, FAILED or CANCELLED.
  ///
  /// The state and the position its events start from are read as one
  /// consistent snapshot, so nothing is missed and nothing reported twice. A
  /// run already ended is not reported: its state is returned at once.
  ///
  /// - Parameters:
  ///   - workflowID: the run.
  ///   - pollInterval: how often the log is read while nothing happens.
  ///   - report: called with each update, in order; what it throws ends the
  ///     watch and is rethrown (a watcher gone away).
  /// - Returns: the run's final state.
  /// - Throws: `EngineError` (`INVALID_ARGUMENT` for an invalid id,
  ///   `NOT_FOUND` for a run that does not exist or expired meanwhile,
  ///   `UNAVAILABLE` while the store is down), `CancellationError` when the
  ///   task is cancelled, or what `report` throws.
  public func watch(
    workflowID: String, pollInterval: Duration = .milliseconds(50),
    report: (WatchUpdate) async throws -> Void
  ) async throws -> RunRecord {
    if let problem = WorkflowID.problem(with: workflowID) { throw EngineError(.invalidArgument, problem) }
    let batchLimit = 256
    do {
      let (record, start) = try await snapshot(workflowID)
      var position = start
      if record.status.endsWatch { return record }
      try await report(.state(record))
      while true {
        try Task.checkCancellation()
        guard let batch = try await store.events(workflowID: workflowID, after: position, limit: batchLimit) else {
          throw StoreError(.notFound, "")
        }
        for (next, event) in batch.events {
          try await report(.event(event))
          position = next
        }
        if batch.events.count == batchLimit { continue }
        // The final state, if the run has not moved on since the batch (a
        // resume of a failed run): no event after `position` means none.
        if batch.status.endsWatch,
          let final = try await store.load(workflowID: workflowID, includeArtifacts: false),
          final.status.endsWatch,
          try await store.lastEventPosition(workflowID: workflowID) == position
        {
          return final
        }
        try await clock.sleep(for: pollInterval)
      }
    } catch let error as StoreError {
      throw EngineError(error, workflowID: workflowID)
    }
  }

  /// A run's state with the position of the last event it reflects: the
  /// position is read before and after the state, and the two agree (every
  /// write appends an event, so no write came in between). On a run that
  /// changes that fast, gives up after a few tries with the earlier position:
  /// events may then be reported that the state already shows, never missed.
  private func snapshot(_ workflowID: String) async throws(StoreError) -> (RunRecord, String) {
    var tries = 0
    while true {
      let before = try await store.lastEventPosition(workflowID: workflowID)
      guard let record = try await store.load(workflowID: workflowID, includeArtifacts: false) else {
        throw StoreError(.notFound, "")
      }
      tries += 1
      if try await store.lastEventPosition(workflowID: workflowID) == before || tries == 5 {
        return (record, before)
      }
    }
  }
}
