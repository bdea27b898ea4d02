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
      ["bench", "seed", "--runs", "10", "--step-ms", "1", "--fsync", "everysec"], in: directory)
    #expect(result.status == 0, "bench seed: \(result.stderr)")
    #expect(result.stdout.contains("| full restart |"))
    #expect(result.stdout.contains("| checkpoint resume |"))
    #expect(result.stdout.contains("seed 42"))
  }
}
