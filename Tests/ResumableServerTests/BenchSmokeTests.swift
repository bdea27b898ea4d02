import Foundation
import ResumableBench
import ResumableTestSupport
import Testing

/// `resumable bench` runs end to end with tiny sizes. Benchmarks print
/// figures; these tests check only that every figure is produced and sane,
/// never how fast anything was.
@Suite("bench smoke")
struct BenchSmokeTests {
  @Test func theSuiteProducesEveryFigure() async throws {
    let directory = try await TemporaryDirectory.create()
    defer { Task { await directory.remove() } }
    let result = try await ChildProcess.run(["bench", "--smoke", "--json", "-"], in: directory)
    #expect(result.status == 0, "bench: \(result.stderr)")
    let report = try BenchReport.decode(json: result.stdout)
    let figures = try #require(report.configurations.first)
    #expect(figures.fsync == "everysec")
    #expect(figures.floorCommit.count > 0 && figures.floorCommit.p50Micros > 0)
    #expect(figures.stepOverhead.perStep.count > 0 && figures.stepOverhead.ratioP50 > 0)
    #expect((figures.resume?.answered.count ?? 0) > 0)
    #expect(figures.getState.map(\.concurrency) == [1, 4])
    #expect(figures.getState.allSatisfy { $0.perSecond > 0 && $0.errors == 0 })
    #expect(
      figures.throughput.allSatisfy { $0.perSecond > 0 && $0.errors == 0 },
      "\(figures.throughput.compactMap(\.firstError))")
    // Every throughput row says what a run cost: CPU (clock ticks: may round
    // to 0 in a short window) and Redis' scripts (at least one EVALSHA a run).
    for load in figures.throughput {
      let cost = try #require(load.cost)
      #expect(cost.serverCpuMicrosPerCall >= 0 && cost.redisCpuMicrosPerCall >= 0)
      #expect(cost.evalshaPerCall >= 1 && cost.evalshaMicrosPerCall > 0, "\(cost)")
    }
    #expect(report.machine.commit?.isEmpty == false)
    // Worker steps (a Swift worker always; the Python one when the SDK is found) and the map.
    let workers = try #require(figures.workerOverhead)
    #expect(workers.inProcessRun.count > 0 && workers.swiftWorkerRun.count > 0)
    #expect(workers.pythonWorkerRun != nil || workers.pythonSkipped != nil)
    // The server's CPU per step is counted around the blocks (clock ticks: may round to 0).
    #expect((workers.inProcessServerCpuPerStepMicros ?? -1) >= 0 && (workers.swiftWorkerServerCpuPerStepMicros ?? -1) >= 0)
    #expect((workers.pythonWorkerRun == nil) == (workers.pythonWorkerProcessCpuPerStepMicros == nil))
    let fanOut = try #require(figures.mapFanOut)
    #expect(fanOut.mapRun.count > 0 && fanOut.sequentialRun.count > 0 && fanOut.mapPerSecond > 0)
    // The memory phase holds more runs than the default --max-runs (256): it raises it.
    let memory = try #require(figures.memory)
    #expect(memory.idleBytes > 0 && memory.inFlightBytes > 0 && memory.runsInFlight == 300)
    #expect(figures.storage.map(\.steps) == [5, 20, 50])
    // More steps store more bytes: at least the artifacts themselves.
    for figure in figures.storage {
      #expect(figure.bytesPerRun > Double(figure.steps * figure.artifactBytesPerStep))
    }
    #expect(report.table().contains("floor: commit script"))
  }

  /// `bench runs`, and `bench runs --get-state`: one load per --callers, each with its CPU
  /// and Redis' scripts per call (what is checked is that each figure is there).
  @Test(arguments: [false, true])
  func theRunsAndGetStateLoadsProduceEveryFigure(getState: Bool) async throws {
    let directory = try await TemporaryDirectory.create()
    defer { Task { await directory.remove() } }
    let result = try await ChildProcess.run(
      ["bench", "runs", "--callers", "1,2", "--seconds", "0.3", "--json", "-"] + (getState ? ["--get-state"] : []),
      in: directory)
    #expect(result.status == 0, "bench runs: \(result.stderr)")
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    let loads = try decoder.decode([BenchReport.Load].self, from: Data(result.stdout.utf8))
    #expect(loads.map(\.concurrency) == [1, 2])
    for load in loads {
      #expect(load.perSecond > 0 && load.errors == 0, "\(load.firstError ?? "")")
      let cost = try #require(load.cost)
      // GetState reads with one script (calls at the window's edges may be counted on
      // either side); a 5-step run takes one per write.
      #expect(getState ? (0.9...1.1).contains(cost.evalshaPerCall) : cost.evalshaPerCall >= 5, "\(cost)")
    }
  }

  /// `bench --redis-topology cluster`: the throughput rows on one Redis and on a 3-master
  /// cluster, each with CPU per run (what is checked is that each figure is there, never a value).
  @Test func theClusterComparisonProducesEveryFigure() async throws {
    let directory = try await TemporaryDirectory.create()
    defer { Task { await directory.remove() } }
    let result = try await ChildProcess.run(["bench", "--redis-topology", "cluster", "--smoke", "--json", "-"], in: directory)
    #expect(result.status == 0, "bench: \(result.stderr)")
    let report = try TopologyReport.decode(json: result.stdout)
    #expect(report.masters == 3)
    let comparison = try #require(report.comparisons.first)
    #expect(comparison.fsync == "everysec")
    for loads in [comparison.single, comparison.cluster] {
      #expect(loads.map(\.concurrency) == [4])
      for load in loads {
        #expect(load.perSecond > 0 && load.errors == 0, "\(load.firstError ?? "")")
        let cost = try #require(load.cost)
        // CPU in clock ticks may round to 0 in so short a window; every run runs scripts.
        #expect(cost.serverCpuMicrosPerCall >= 0 && cost.redisCpuMicrosPerCall >= 0)
        #expect(cost.evalshaPerCall >= 1 && cost.evalshaMicrosPerCall > 0, "\(cost)")
      }
    }
    #expect(report.table().contains("cluster / one Redis: server CPU per run"))
  }

  @Test func theSeedExperimentPrintsTheArticlesTable() async throws {
    let directory = try await TemporaryDirectory.create()
    defer { Task { await directory.remove() } }
    let result = try await ChildProcess.run(
      ["bench", "seed", "--runs", "10", "--step-ms", "1", "--fsync", "everysec", "--fail-times", "3"], in: directory)
    #expect(result.status == 0, "bench seed: \(result.stderr)")
    #expect(result.stdout.contains("| full restart |"))
    #expect(result.stdout.contains("| checkpoint resume |"))
    #expect(result.stdout.contains("seed 42"))
    #expect(result.stdout.contains("| The story | full restart | checkpoint resume | resume with a $0.90 budget |"))
    #expect(result.stdout.contains("The model: one run of 10 steps at $0.045 a step"))
  }

  /// The story at a small size: its figures are what the server recorded, so they are exact.
  @Test func theStoryRunsEachStrategyToItsEndAndCountsWhatItSpent() async throws {
    let directory = try await TemporaryDirectory.create()
    defer { Task { await directory.remove() } }
    let result = try await ChildProcess.run(
      [
        "bench", "seed", "--runs", "1", "--step-ms", "1", "--fsync", "everysec", "--steps", "4", "--fail-step", "3",
        "--fail-times", "5", "--cost", "0.01", "--budget", "0.05", "--json", "-",
      ], in: directory)
    #expect(result.status == 0, "bench seed: \(result.stderr)")
    let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let story = try #require(report["story"] as? [String: Any])
    #expect(story["steps"] as? Int == 4 && story["fail_step"] as? Int == 3 && story["fail_times"] as? Int == 5)
    let results = try #require(story["results"] as? [[String: Any]])
    func figures(_ strategy: String) throws -> (spent: Double, executions: Int, tries: Int, runs: Int, status: String) {
      let row = try #require(results.first { $0["strategy"] as? String == strategy }, "\(strategy) in \(results)")
      return (
        try #require(row["spent_usd"] as? Double), try #require(row["step_executions"] as? Int),
        try #require(row["tries"] as? Int), try #require(row["runs"] as? Int), try #require(row["status"] as? String)
      )
    }
    // Full restart: 5 failed tries of steps 1-3, then a try of all 4 steps, each a new run.
    let restart = try figures("full restart")
    #expect(restart.executions == 5 * 3 + 4 && restart.tries == 6 && restart.runs == 6 && restart.status == "COMPLETED")
    #expect(abs(restart.spent - 0.19) < 1e-9)
    // Checkpoint resume: steps 1-2 once, step 3 six times, step 4 once, in one run.
    let resume = try figures("checkpoint resume")
    #expect(resume.executions == 2 + 6 + 1 && resume.tries == 6 && resume.runs == 1 && resume.status == "COMPLETED")
    #expect(abs(resume.spent - 0.09) < 1e-9)
    // With a $0.05 budget: steps 1-2, then step 3 fails 3 times ($0.05 spent); the next
    // attempt would pass the budget, so the run fails without it and the loop stops.
    let budget = try figures("resume with a budget")
    #expect(budget.executions == 2 + 3 && budget.tries == 4 && budget.runs == 1 && budget.status == "FAILED")
    #expect(abs(budget.spent - 0.05) < 1e-9)
    let stopped = try #require(results.first { $0["strategy"] as? String == "resume with a budget" }?["stopped_by"] as? String)
    #expect(stopped.contains("budget"), "\(stopped)")
  }
}
