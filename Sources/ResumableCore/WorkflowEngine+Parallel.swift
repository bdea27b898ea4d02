import Logging
import Synchronization

/// The runner of a parallel workflow (`parallel: true`): its steps form a DAG
/// by their `inputs` and `after`, and every step whose dependencies have
/// committed runs at once, up to `max_parallel`. Each step is a branch: a
/// `StepMachine` of its own (`branch:`), whose writes name their step rather
/// than the run's cursor, so branches begin, fail, wait and commit side by
/// side under the run's one lease and fencing token; each commit writes only
/// its own step (O(its output)). The run completes with a write of its own
/// once every step has committed.
extension WorkflowEngine {
  /// Drives a parallel run whose lease this server holds, until every step
  /// has committed, a step fails out of its retries (the run FAILS once the
  /// steps beside it have finished, or at once with `on_failure: cancel`),
  /// the lease is lost, or the engine shuts down (the branches running finish
  /// their attempt; the run is left for a resume).
  func driveParallel(_ start: RunRecord, completion: RunCompletion, logger: Logger) async {
    let definition = start.definition
    let settings = definition.parallelism ?? WorkflowDefinition.Parallelism()
    let steps = definition.steps
    let indexByName = Dictionary(steps.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    let dependencies = steps.map { definition.dependencies(of: $0).compactMap { indexByName[$0] } }
    let neededLater = Set(steps.flatMap(\.inputs))
    var record = start
    let progress = BranchProgress(committed: Set(steps.indices.filter { start.steps[$0].status == .completed }))
    // The step the drive began with (a create, a resume, a takeover began its
    // attempt): its attempt is not begun again.
    var begun: Int? = start.steps.indices.contains(start.cursor) && start.steps[start.cursor].status == .running ? start.cursor : nil
    var committed: [String: [UInt8]] = [:]
    var running: Set<Int> = []
    var failure: (index: Int, runError: String, step: StepProgress)?
    var stopped: (release: Bool, why: StepMachine.StopReason)?
    let limits = machineLimits

    await withTaskGroup(of: (index: Int, end: MachineEnd, step: StepProgress?).self) { group in
      while true {
        if failure == nil, stopped == nil, !isDraining {
          let done = progress.committed
          for index in steps.indices where running.count < settings.maxParallel {
            guard !done.contains(index), !running.contains(index), dependencies[index].allSatisfy(done.contains) else {
              continue
            }
            running.insert(index)
            let beginFirst = begun != index
            if begun == index { begun = nil }
            let snapshot = record
            let known = committed
            var branchLogger = logger
            branchLogger[metadataKey: "step"] = "\(steps[index].name)"
            group.addTask {
              var branch = snapshot
              if beginFirst {
                guard let step = await self.beginBranch(index, of: branch, logger: branchLogger) else {
                  return (index, .stop(release: false, why: .writeRefused), nil)
                }
                branch.steps[index] = step
              }
              var machine = StepMachine(record: branch, limits: limits, branch: index)
              let end = await self.perform(&machine, logger: branchLogger, committed: known) { write in
                guard case .commit(var commit) = write, commit.branchCursor != nil else { return write }
                commit.branchCursor = progress.cursor(committing: index, of: steps.count)
                return .commit(commit)
              }
              return (index, end, machine.record.steps[index])
            }
          }
        }
        guard let ended = await group.next() else { break }
        running.remove(ended.index)
        if let step = ended.step { record.steps[ended.index] = step }
        switch ended.end {
        case .branchEnded(.committed(let artifact, let step)):
          record.steps[ended.index] = step
          progress.insert(ended.index)
          if neededLater.contains(steps[ended.index].name) { committed[steps[ended.index].name] = artifact }
        case .branchEnded(.failed(let runError, let step)):
          record.steps[ended.index] = step
          if failure == nil { failure = (ended.index, runError, step) }
          // `cancel`: the branches running are cancelled; nothing of theirs is committed.
          if settings.onFailure == .cancel { group.cancelAll() }
        case .stop(let release, let why):
          var branchLogger = logger
          branchLogger[metadataKey: "step"] = "\(steps[ended.index].name)"
          log(why, logger: branchLogger)
          // A lost lease or a refused write: the run is no longer ours to release.
          if stopped == nil || !release { stopped = (release && (stopped?.release ?? true), why) }
        case .complete, .askApproval:
          preconditionFailure("a branch of a parallel run ended as a whole run")
        }
      }
    }

    if let failure, stopped?.release != false {
      // The branches beside the failed one have ended: the run FAILS now.
      let timing = writeTiming(ending: .failed)
      let write = AttemptFailure(
        workflowID: record.workflowID, fence: record.fence, cursor: StepCommit.branch,
        stepName: steps[failure.index].name, step: failure.step, usage: StepUsage(), runError: failure.runError,
        timing: timing)
      var failLogger = logger
      failLogger[metadataKey: "step"] = "\(steps[failure.index].name)"
      guard await self.write(record, logger: failLogger, { try await self.store.recordFailure(write) }) else { return }
      failLogger.info("run failed: \(failure.runError)")
      await finishParallel(record, completion: completion)
      return
    }
    if let stopped {
      if stopped.release { await release(record) }
      return
    }
    guard progress.committed.count == steps.count else {
      // Shutting down before every step could start: left for a resume.
      log(.shuttingDown, logger: logger)
      await release(record)
      return
    }
    let end = ParallelRunEnd(
      workflowID: record.workflowID, fence: record.fence, stepCount: steps.count,
      timing: writeTiming(ending: .completed))
    guard await self.write(record, logger: logger, { try await self.store.completeParallelRun(end) }) else { return }
    logger.info("run completed")
    await finishParallel(record, completion: completion)
  }

  /// Begins an attempt of a branch's step (its first in this drive); nil
  /// when the write was refused or never answered.
  private func beginBranch(_ index: Int, of record: RunRecord, logger: Logger) async -> StepProgress? {
    let timing = writeTiming()
    let step = record.steps[index].beginningAttempt(at: timing.nowMs)
    let begin = AttemptBegin(
      workflowID: record.workflowID, fence: record.fence, cursor: StepCommit.branch,
      stepName: record.definition.steps[index].name, step: step, resume: nil, timing: timing)
    guard await write(record, logger: logger, { try await self.store.beginAttempt(begin) }) else { return nil }
    return step
  }

  /// Answers the run's waiters with the run as stored, and gives up the
  /// lease (the run has ended: it leaves the recovery index too).
  private func finishParallel(_ record: RunRecord, completion: RunCompletion) async {
    let loaded = try? await retryingStore {
      try await self.store.load(workflowID: record.workflowID, includeArtifacts: false)
    }
    guard let stored = loaded ?? nil else {
      // Ended, but unreadable now: waiters read it themselves.
      var ended = record
      ended.status = .completed
      await release(ended)
      return
    }
    if stored.status == .completed {
      completion.finish(with: stored)
      await release(stored)
    } else {
      await release(stored)
      endedDrive(record.workflowID, completion: completion, with: stored)
    }
  }
}

/// The steps of a parallel run committed so far, shared by its branches: a
/// branch's commit says where the run's cursor (the first step not committed,
/// in list order) is once it has committed.
final class BranchProgress: Sendable {
  private let state: Mutex<Set<Int>>

  init(committed: Set<Int>) {
    state = Mutex(committed)
  }

  var committed: Set<Int> { state.withLock { $0 } }

  func insert(_ index: Int) {
    _ = state.withLock { $0.insert(index) }
  }

  /// The first step not committed, in list order, counting `index` as committed.
  func cursor(committing index: Int, of count: Int) -> Int {
    state.withLock { done in (0..<count).first { $0 != index && !done.contains($0) } ?? count }
  }
}
