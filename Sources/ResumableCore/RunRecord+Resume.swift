extension RunRecord {
  /// What a resume writes, and the run after it: every committed step (and
  /// map item) is credited with what it saves (`savedMicros`, not run again),
  /// and a new attempt of the step at the cursor begins under `fence`. The
  /// one definition of a resume's effect: the engine's general path writes the
  /// returned begin, and the in-memory store applies it.
  /// - Returns: the begin to write; `self` becomes the run as it will be stored.
  public mutating func resume(fence: UInt64, timing: WriteTiming) -> AttemptBegin {
    var saved: Int64 = 0
    var updated: [String: StepProgress] = [:]
    // Every committed step it will not run again (a parallel run's may follow the cursor).
    for index in steps.indices where steps[index].status == .completed {
      saved += steps[index].committedCostMicros
      steps[index].savedMicros += steps[index].committedCostMicros
      updated[definition.steps[index].name] = steps[index]
    }
    // …and every committed item of a map step (each committed on its own).
    for step in definition.steps where step.map != nil {
      for (item, var progress) in items[step.name] ?? [:] where progress.status == .completed {
        saved += progress.committedCostMicros
        progress.savedMicros += progress.committedCostMicros
        items[step.name]?[item] = progress
        updated[step.itemName(item)] = progress
      }
    }
    let step = steps[cursor].beginningAttempt(at: timing.nowMs)
    let begin = AttemptBegin(
      workflowID: workflowID, fence: fence, cursor: cursor, stepName: definition.steps[cursor].name, step: step,
      resume: ResumeMark(savedMicros: saved, updatedSteps: updated), timing: timing)
    steps[cursor] = step
    status = .running
    error = nil
    self.fence = fence
    resumes += 1
    schemaVersion = RunRecord.currentSchemaVersion  // the resume stores it
    ledger.savedByResumeMicros += saved
    updatedAtMs = timing.nowMs
    expiresAtMs = timing.nowMs + timing.ttlMs
    return begin
  }
}
