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
  @inline(never)  // Its frame is large; a sequential drive's frame does not hold it.
  func driveParallel(_ start: RunRecord, completion: RunCompletion, logger: Logger) async {
    let definition = start.definition
    let settings = definition.parallelism ?? WorkflowDefinition.Parallelism()
    let steps = definition.steps
    let indexByName = Dictionary(steps.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    let dependencies = steps.map { definition.dependencies(of: $0).compactMap { indexByName[$0] } }
    let neededLater = Set(steps.flatMap(\.inputs) + steps.compactMap { $0.map?.source.step })
    var record = start
    let progress = BranchProgress(committed: Set(steps.indices.filter { start.steps[$0].status == .completed }))
    // The step the drive began with (a create, a resume, a takeover began its
    // attempt): its attempt is not begun again. A map step's items begin their own.
    var begun: Int? = start.steps.indices.contains(start.cursor) && start.steps[start.cursor].status == .running ? start.cursor : nil
    var committed: [String: [UInt8]] = [:]
    var running: Set<Branch> = []
    var maps: [Int: MapProgress] = [:]
    var failure: (name: String, runError: String, step: StepProgress)?
    var stopped: (release: Bool, why: StepMachine.StopReason)?
    // A branch whose attempt would pass the run's budget (`on_budget: pause`):
    // no new branch starts, and once the running ones end the run awaits budget.
    var budgetStop: (index: Int, name: String, stop: BudgetStop, step: StepProgress)?
    let limits = machineLimits
    let spend = RunSpend(spent: start.ledger.spentMicros)

    await withTaskGroup(of: BranchResult.self) { group in
      /// Starts a branch that runs one step.
      func launch(_ index: Int, record snapshot: RunRecord, known: [String: [UInt8]], beginFirst: Bool) {
        let branch = Branch(step: index)
        running.insert(branch)
        var branchLogger = logger
        branchLogger[metadataKey: "step"] = "\(snapshot.definition.steps[index].name)"
        group.addTask {
          var branchRecord = snapshot
          if beginFirst {
            guard let step = await self.beginBranch(index, of: branchRecord, logger: branchLogger) else {
              return BranchResult(branch: branch, end: .stop(release: false, why: .writeRefused))
            }
            branchRecord.steps[index] = step
          }
          var machine = StepMachine(record: branchRecord, limits: limits, branch: index)
          let end = await self.perform(&machine, logger: branchLogger, committed: known, spend: spend) { write in
            guard case .commit(var commit) = write, commit.branchCursor != nil else { return write }
            commit.branchCursor = progress.cursor(committing: index, of: steps.count)
            return .commit(commit)
          }
          return BranchResult(branch: branch, end: end, step: machine.record.steps[index])
        }
      }

      /// Starts a lane of a map step: a branch that runs its first item (begun
      /// here), then, as long as items are left, each next one, begun by the
      /// commit of the one before.
      func launchLane(_ index: Int, lane: Int, first: (item: Int, step: StepProgress), lanes: MapLanes, known: [String: [UInt8]]) {
        let branch = Branch(step: index, lane: lane)
        running.insert(branch)
        let step = steps[index]
        // What every item's machine starts from: the run with the map step
        // as an item reading `item` and `index` (the items' records left
        // out: the machine reads none, and the driver's copy changes as items end).
        var base = record
        base.items = [:]
        var itemStep = step
        itemStep.inputs += [MapProgress.itemInput, MapProgress.indexInput]
        itemStep.map = nil
        let items = maps[index]?.items ?? []
        // Lanes in turn on each executor given (the server's event loops), so that a
        // map's items use every core; each lane stays on its own.
        let executors = configuration.laneExecutors
        group.addTask(executorPreference: executors.isEmpty ? nil : executors[lane % executors.count]) {
          var item = first.item
          var state = first.step
          var begun = false
          while true {
            var itemRecord = base
            itemStep.name = step.itemName(item)
            itemRecord.definition.steps[index] = itemStep
            itemRecord.steps[index] = state
            if !begun {
              var itemLogger = logger
              itemLogger[metadataKey: "step"] = "\(itemStep.name)"
              guard let started = await self.beginBranch(index, of: itemRecord, logger: itemLogger) else {
                lanes.halt()
                return BranchResult(branch: branch, item: item, end: .stop(release: false, why: .writeRefused))
              }
              itemRecord.steps[index] = started
            }
            var itemKnown = known
            itemKnown[MapProgress.itemInput] = items[item]
            itemKnown[MapProgress.indexInput] = Array("\(item)".utf8)
            var machine = StepMachine(record: itemRecord, limits: limits, branch: index)
            var next: (item: Int, step: StepProgress)?
            // (`perform` labels its logger with the item.)
            let end = await self.perform(&machine, logger: logger, committed: itemKnown, spend: spend) { write in
              guard case .commit(var commit) = write, commit.branchCursor != nil else { return write }
              commit.branchCursor = progress.cursor(committing: nil, of: steps.count)
              // The lane's next item, if any is left, begins in this commit.
              if !Task.isCancelled, !self.isDraining, let claimed = lanes.claim() {
                let started = claimed.step.beginningAttempt(at: commit.timing.nowMs)
                commit.next = (step.itemName(claimed.item), started)
                next = (claimed.item, started)
              }
              return .commit(commit)
            }
            guard case .branchEnded(.committed(let artifact, let done)) = end else {
              lanes.halt()
              return BranchResult(branch: branch, item: item, end: end, step: machine.record.steps[index])
            }
            lanes.committed(item, artifact: artifact, step: done)
            guard let next else { return BranchResult(branch: branch, item: item, end: end, step: done) }
            (item, state, begun) = (next.item, next.step, true)
          }
        }
      }

      while true {
        if failure == nil, stopped == nil, budgetStop == nil, !isDraining {
          let done = progress.committed
          for index in steps.indices where running.count < settings.maxParallel {
            guard !done.contains(index), dependencies[index].allSatisfy(done.contains) else { continue }
            let step = steps[index]
            guard let spec = step.map else {
              guard !running.contains(Branch(step: index)) else { continue }
              let beginFirst = begun != index
              if begun == index { begun = nil }
              launch(index, record: record, known: committed, beginFirst: beginFirst)
              continue
            }
            if maps[index] == nil {
              switch await mapItems(step, of: record, committed: committed) {
              case .success(let items):
                let known = record.items[step.name] ?? [:]
                var map = MapProgress(
                  items: items,
                  lanes: MapLanes(
                    pending: items.indices.filter { known[$0]?.status != .completed },
                    records: known.filter { $0.key < items.count && $0.value.status != .completed }))
                for (item, itemRecord) in known where itemRecord.status == .completed && item < items.count {
                  map.done.insert(item)
                }
                // The step shows RUNNING with its number of items (readers count the rest).
                guard let started = await startMap(index, items: items.count, of: record, logger: logger) else {
                  stopped = (false, .writeRefused)
                  break
                }
                record.steps[index] = started
                maps[index] = map
              case .failure(let problem):
                guard let failed = await failMapStep(index, of: record, message: problem.message, logger: logger) else {
                  stopped = (false, .writeRefused)
                  break
                }
                record.steps[index] = failed.step
                failure = (step.name, failed.runError, failed.step)
                break
              }
            }
            guard var map = maps[index] else { break }
            if map.done.count == map.items.count {
              // Every item committed: the step commits the list of their results.
              guard await commitMap(index, map: &map, of: &record, logger: logger, cursor: progress) else {
                stopped = (false, .writeRefused)
                break
              }
              maps[index] = map
              progress.insert(index)
              if neededLater.contains(step.name) { committed[step.name] = map.artifact }
              continue
            }
            // Lanes up to the map's own limit, each in a slot of the run's.
            let perMap = spec.maxParallel ?? settings.maxParallel
            while map.laneCount < perMap, running.count < settings.maxParallel, let first = map.lanes.claim(opening: true) {
              let lane = map.nextLane
              map.nextLane += 1
              map.laneCount += 1
              maps[index] = map
              launchLane(index, lane: lane, first: first, lanes: map.lanes, known: committed)
            }
            maps[index] = map
          }
          // A step that waits for a slot while lanes of a map after it in list
          // order hold theirs: those lanes give their slots back as their items
          // commit (the driver fills a slot in list order, as with single items).
          let waiting =
            running.count < settings.maxParallel
            ? nil
            : steps.indices.first { index in
              guard !progress.committed.contains(index), dependencies[index].allSatisfy(progress.committed.contains) else {
                return false
              }
              guard let spec = steps[index].map else { return !running.contains(Branch(step: index)) }
              guard let map = maps[index] else { return true }
              return map.laneCount < (spec.maxParallel ?? settings.maxParallel) && map.lanes.hasPending
            }
          for (index, map) in maps { map.lanes.yield(waiting.map { $0 < index } ?? false) }
        }
        guard let ended = await group.next() else {
          // Nothing running: every step may be done, or one just became ready
          // (a map whose items all committed), or the drive is over.
          if failure == nil, stopped == nil, budgetStop == nil, !isDraining, progress.committed.count < steps.count,
            steps.indices.contains(where: { !progress.committed.contains($0) && dependencies[$0].allSatisfy(progress.committed.contains) })
          {
            continue
          }
          break
        }
        running.remove(ended.branch)
        let index = ended.branch.step
        let name = steps[index].name
        if ended.branch.lane != nil, var map = maps[index] {
          // A lane ended: what its items committed joins the driver's copy.
          map.laneCount -= 1
          for done in map.lanes.takeCommitted() {
            map.done.insert(done.item)
            map.artifacts[done.item] = done.artifact
            record.items[name, default: [:]][done.item] = done.step
          }
          maps[index] = map
          if let item = ended.item, let step = ended.step, !map.done.contains(item) {
            record.items[name, default: [:]][item] = step
          }
        } else if let step = ended.step {
          record.steps[index] = step
        }
        switch ended.end {
        case .branchEnded(.committed(let artifact, _)):
          if ended.branch.lane == nil {
            progress.insert(index)
            if neededLater.contains(name) { committed[name] = artifact }
          }
        case .branchEnded(.failed(let runError, let step)):
          if failure == nil {
            if ended.branch.lane != nil {
              // An item out of its retries fails its map step, which says why.
              var parent = record.steps[index]
              parent.status = .failed
              parent.lastError = step.lastError
              parent.lastErrorClass = step.lastErrorClass
              parent.finishedAtMs = step.finishedAtMs
              record.steps[index] = parent
              failure = (name, runError, parent)
            } else {
              failure = (name, runError, step)
            }
          }
          // `cancel`: the branches running are cancelled; nothing of theirs is committed.
          if settings.onFailure == .cancel { group.cancelAll() }
        case .stop(let release, let why):
          var branchLogger = logger
          branchLogger[metadataKey: "step"] = "\(name)"
          log(why, logger: branchLogger)
          // A lost lease or a refused write: the run is no longer ours to release.
          if stopped == nil || !release { stopped = (release && (stopped?.release ?? true), why) }
        case .askApproval(.budget(let stop), let step, _):
          if budgetStop == nil {
            budgetStop = (index, ended.item.map { steps[index].itemName($0) } ?? name, stop, step)
          }
        case .complete, .askApproval:
          preconditionFailure("a branch of a parallel run ended as a whole run")
        }
        if failure != nil || stopped != nil || budgetStop != nil {
          // No item begins any more: the lanes running end after their item.
          for map in maps.values { map.lanes.halt() }
        }
      }
    }

    if let failure, stopped?.release != false {
      // The branches beside the failed one have ended: the run FAILS now.
      let write = AttemptFailure(
        workflowID: record.workflowID, fence: record.fence, cursor: StepCommit.branch, stepName: failure.name,
        step: failure.step, usage: StepUsage(), runError: failure.runError, timing: writeTiming(ending: .failed))
      var failLogger = logger
      failLogger[metadataKey: "step"] = "\(failure.name)"
      guard await self.write(logger: failLogger, { try await self.store.recordFailure(write) }) else { return }
      failLogger.info("run failed: \(failure.runError)")
      await finishParallel(record, completion: completion)
      return
    }
    if let stopped {
      if stopped.release { await release(record) }
      return
    }
    if let budgetStop {
      // The branches beside it have ended: the run awaits more budget.
      var stopLogger = logger
      stopLogger[metadataKey: "step"] = "\(budgetStop.name)"
      await askApproval(
        &record, index: budgetStop.index, kind: .budget(budgetStop.stop), state: budgetStop.step, held: nil,
        logger: stopLogger, stepName: budgetStop.name)
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
    guard await self.write(logger: logger, { try await self.store.completeParallelRun(end) }) else { return }
    logger.info("run completed")
    await finishParallel(record, completion: completion)
  }

  /// The elements of a map step's list, each as JSON bytes; a failure (non-retryable)
  /// when the source is not a list or is longer than `max_items`.
  private func mapItems(_ step: StepDefinition, of record: RunRecord, committed: [String: [UInt8]]) async
    -> Result<[[UInt8]], StepFailure>
  {
    guard let spec = step.map else { return .success([]) }
    let source = spec.source
    let bytes: [UInt8]
    if let name = source.step {
      if let known = committed[name] {
        bytes = known
      } else {
        guard let loaded = try? await retryingStore({ try await self.store.artifacts(workflowID: record.workflowID, steps: [name]) }),
          let artifact = loaded[name]
        else {
          return .failure(StepFailure("step '\(step.name)': cannot read the artifact of '\(name)' to map over", retryable: false))
        }
        bytes = artifact
      }
    } else {
      bytes = record.input
    }
    var value: JSONValue
    do {
      value = try JSONValue(parsing: bytes)
    } catch {
      return .failure(StepFailure("step '\(step.name)': map.over '\(spec.over)' is not JSON (\(error.message))", retryable: false))
    }
    if let field = source.field {
      guard let member = value.objectValue?[field] else {
        return .failure(StepFailure(
          "step '\(step.name)': map.over '\(spec.over)' has no field '\(field)' (it is \(value.typeName))", retryable: false))
      }
      value = member
    }
    guard let list = value.arrayValue else {
      return .failure(StepFailure(
        "step '\(step.name)': map.over '\(spec.over)' must be a list, not \(value.typeName)", retryable: false))
    }
    guard list.count <= spec.maxItems else {
      return .failure(StepFailure(
        "step '\(step.name)': map.over '\(spec.over)' has \(list.count) items; the limit is max_items \(spec.maxItems)",
        retryable: false))
    }
    return .success(list.map { $0.serialized() })
  }

  /// Writes a map step's record RUNNING with its number of items (its items
  /// begin their own attempts); nil when refused.
  private func startMap(_ index: Int, items: Int, of record: RunRecord, logger: Logger) async -> StepProgress? {
    var started = record.steps[index]
    if started.status == .running, started.itemsTotal == items { return started }
    let timing = writeTiming()
    started.status = .running
    started.itemsTotal = items
    if started.startedAtMs == 0 { started.startedAtMs = timing.nowMs }
    started.lastError = nil
    started.waitReason = nil
    let begin = AttemptBegin(
      workflowID: record.workflowID, fence: record.fence, cursor: StepCommit.branch,
      stepName: record.definition.steps[index].name, step: started, resume: nil, timing: timing)
    guard await write(logger: logger, { try await self.store.beginAttempt(begin) }) else { return nil }
    return started
  }

  /// Writes a map step FAILED without an attempt (its list cannot be mapped); nil when refused.
  private func failMapStep(_ index: Int, of record: RunRecord, message: String, logger: Logger) async
    -> (step: StepProgress, runError: String)?
  {
    let timing = writeTiming()
    var failed = record.steps[index]
    failed.status = .failed
    failed.lastError = message
    failed.lastErrorClass = .nonRetryable
    failed.finishedAtMs = timing.nowMs
    let write = AttemptFailure(
      workflowID: record.workflowID, fence: record.fence, cursor: StepCommit.branch,
      stepName: record.definition.steps[index].name, step: failed, usage: StepUsage(), runError: nil, timing: timing)
    guard await self.write(logger: logger, { try await self.store.recordFailure(write) }) else { return nil }
    return (failed, "step '\(record.definition.steps[index].name)' failed: \(message)")
  }

  /// Commits a map step whose items have all committed: its artifact is the
  /// list of their results, in order (items committed before this drive are
  /// read back). Its usage is the items' (already charged, item by item).
  private func commitMap(
    _ index: Int, map: inout MapProgress, of record: inout RunRecord, logger: Logger, cursor progress: BranchProgress
  ) async -> Bool {
    let step = record.definition.steps[index]
    let missing = map.items.indices.filter { map.artifacts[$0] == nil }.map(step.itemName)
    if !missing.isEmpty {
      guard let loaded = try? await retryingStore({
        try await self.store.artifacts(workflowID: record.workflowID, steps: missing)
      }) else { return false }
      for item in map.items.indices where map.artifacts[item] == nil {
        guard let artifact = loaded[step.itemName(item)] else { return false }
        map.artifacts[item] = artifact
      }
    }
    var artifact: [UInt8] = [UInt8(ascii: "[")]
    for item in map.items.indices {
      if item > 0 { artifact.append(UInt8(ascii: ",")) }
      artifact += map.artifacts[item] ?? Array("null".utf8)
    }
    artifact.append(UInt8(ascii: "]"))
    map.artifact = artifact
    let timing = writeTiming()
    var done = record.steps[index]
    let items = record.items[step.name] ?? [:]
    done.status = .completed
    done.usage = items.values.reduce(StepUsage()) { $0 + $1.usage }
    done.attempts = items.values.reduce(0) { $0 + $1.attempts }
    if done.startedAtMs == 0 { done.startedAtMs = items.values.map(\.startedAtMs).filter { $0 > 0 }.min() ?? timing.nowMs }
    done.finishedAtMs = timing.nowMs
    done.artifactBytes = UInt64(artifact.count)
    done.committedCostMicros = 0  // each item's cost is saved on its own by a resume
    done.lastError = nil
    done.waitReason = nil
    let commit = StepCommit(
      workflowID: record.workflowID, fence: record.fence, cursor: StepCommit.branch, stepName: step.name,
      artifact: artifact, step: done, usage: StepUsage(), next: nil, timing: timing,
      branchCursor: progress.cursor(committing: index, of: record.definition.steps.count))
    guard await self.write(logger: logger, { try await self.store.commitStep(commit) }) else { return false }
    record.steps[index] = done
    return true
  }

  /// Begins an attempt of a branch's step (its first in this drive); nil
  /// when the write was refused or never answered.
  private func beginBranch(_ index: Int, of record: RunRecord, logger: Logger) async -> StepProgress? {
    let timing = writeTiming()
    let step = record.steps[index].beginningAttempt(at: timing.nowMs)
    let begin = AttemptBegin(
      workflowID: record.workflowID, fence: record.fence, cursor: StepCommit.branch,
      stepName: record.definition.steps[index].name, step: step, resume: nil, timing: timing)
    guard await write(logger: logger, { try await self.store.beginAttempt(begin) }) else { return nil }
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

  /// The first step not committed, in list order, counting `index` (if any) as committed.
  func cursor(committing index: Int?, of count: Int) -> Int {
    state.withLock { done in (0..<count).first { $0 != index && !done.contains($0) } ?? count }
  }
}

/// One unit a parallel run's driver runs, in one of its `max_parallel` slots:
/// a step, or a lane of a map step (which runs its items one after another).
struct Branch: Hashable, Sendable {
  var step: Int
  var lane: Int?
}

/// How a branch ended: for a lane, the item it ended with (its last
/// committed, or the one that failed or stopped).
struct BranchResult: Sendable {
  var branch: Branch
  var item: Int?
  var end: WorkflowEngine.MachineEnd
  var step: StepProgress?
}

/// A map step's items in one drive: the list, which have committed, the lanes running them.
struct MapProgress: Sendable {
  /// The input names under which an item receives its element and its index.
  static let itemInput = "item"
  static let indexInput = "index"

  var items: [[UInt8]]
  /// The items not yet begun in this drive, shared with the lanes.
  let lanes: MapLanes
  /// Items committed, known to the driver (a lane's, once it has ended).
  var done: Set<Int> = []
  /// Lanes running, and the number of the next one.
  var laneCount = 0
  var nextLane = 0
  /// The results of items committed in this drive.
  var artifacts: [Int: [UInt8]] = [:]
  /// The step's artifact, once committed.
  var artifact: [UInt8] = []
}

/// The items of a map step left to begin, shared by its lanes: each lane
/// takes the next one as it commits its item (the commit begins it), until
/// none is left or the driver halts them (a failure, a stop).
final class MapLanes: Sendable {
  private struct State {
    /// Items not begun in this drive, in order, from `next`.
    var pending: [Int]
    var next = 0
    /// The stored records of the pending items that have one (attempts count on).
    var records: [Int: StepProgress]
    var halted = false
    /// A step before the map in list order waits for a slot: lanes give theirs back.
    var yielding = false
    /// What lanes committed since the driver last took it.
    var committed: [(item: Int, artifact: [UInt8], step: StepProgress)] = []
  }

  private let state: Mutex<State>

  init(pending: [Int], records: [Int: StepProgress]) {
    state = Mutex(State(pending: pending, records: records))
  }

  /// The next item to begin, with its record so far; nil when none is left,
  /// when the lanes are halted, or (but for the item a new lane `opens`
  /// with) when they yield their slots.
  func claim(opening: Bool = false) -> (item: Int, step: StepProgress)? {
    state.withLock { state in
      guard !state.halted, opening || !state.yielding, state.next < state.pending.count else { return nil }
      let item = state.pending[state.next]
      state.next += 1
      return (item, state.records.removeValue(forKey: item) ?? StepProgress())
    }
  }

  /// Whether items are left to begin.
  var hasPending: Bool { state.withLock { $0.next < $0.pending.count } }

  /// Lanes end after their item (true), so that the driver gives their slots
  /// to a step ahead of the map; or go on again (false).
  func yield(_ yielding: Bool) {
    state.withLock { $0.yielding = yielding }
  }

  /// No item begins any more.
  func halt() {
    state.withLock { $0.halted = true }
  }

  /// A lane's item committed.
  func committed(_ item: Int, artifact: [UInt8], step: StepProgress) {
    state.withLock { $0.committed.append((item, artifact, step)) }
  }

  /// The items committed since the last call.
  func takeCommitted() -> [(item: Int, artifact: [UInt8], step: StepProgress)] {
    state.withLock { state in
      defer { state.committed = [] }
      return state.committed
    }
  }
}
