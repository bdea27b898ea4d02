import Foundation
import Testing

@testable import ResumableBench

@Suite struct LatencySamplesTests {
  @Test func nearestRankPercentilesAreExact() {
    var samples = LatencySamples()
    for micros in (1...1000).reversed() { samples.record(.microseconds(micros)) }
    let summary = samples.summary()
    #expect(summary.count == 1000)
    #expect(summary.p50Micros == 500)
    #expect(summary.p99Micros == 990)
    #expect(summary.p999Micros == 999)
    #expect(summary.maxMicros == 1000)
    #expect(summary.meanMicros == 500.5)
  }

  @Test func emptyAndSingleSample() {
    #expect(LatencySamples().summary().p99Micros == 0)
    var one = LatencySamples()
    one.record(.nanoseconds(1500))
    #expect(one.summary().p50Micros == 1.5)
    #expect(one.summary().p999Micros == 1.5)
  }

  @Test func mergeAndDivide() {
    var a = LatencySamples()
    var b = LatencySamples()
    a.record(.microseconds(10))
    b.record(.microseconds(30))
    a.merge(b)
    let summary = a.summary().divided(by: 10)
    #expect(summary.count == 2)
    #expect(summary.p50Micros == 1)
    #expect(summary.maxMicros == 3)
  }
}

@Suite struct SeedExperimentPlanTests {
  func experiment(seed: UInt64 = 42, retries: Int = 1, rate: Double = 0.2) -> SeedExperiment {
    var options = SeedExperiment.Options(executable: "/nonexistent")
    options.seed = seed
    options.retries = retries
    options.failureRate = rate
    return SeedExperiment(options: options)
  }

  @Test func theSameSeedGivesTheSamePlans() {
    let first = experiment().plans()
    let again = experiment().plans()
    #expect(first.map(\.restartTries) == again.map(\.restartTries))
    #expect(first.map(\.resumeFailures) == again.map(\.resumeFailures))
    #expect(experiment(seed: 7).plans().map(\.resumeFailures) != first.map(\.resumeFailures))
  }

  @Test func bothStrategiesFaceTheSameFirstTry() {
    for plan in experiment().plans() {
      // The first try draws the same outcomes under both strategies.
      let firstFailure = plan.resumeFailures.firstIndex { $0 > 0 }
      #expect(plan.restartTries[0] == firstFailure)
      #expect(plan.restartTries.count <= 2)
      #expect(plan.resumeTries <= 2)
    }
  }

  @Test func theStepProbabilityGivesTheRunFailureRate() {
    let p = experiment().stepFailureProbability
    #expect(abs((1 - pow(1 - p, 5)) - 0.2) < 1e-12)
    // Over many runs, about 20% of first tries fail.
    var options = SeedExperiment.Options(executable: "/nonexistent")
    options.runs = 20_000
    let plans = SeedExperiment(options: options).plans()
    let failed = Double(plans.filter { $0.restartTries[0] != nil }.count) / Double(plans.count)
    #expect(abs(failed - 0.2) < 0.015)
  }

  @Test func withoutFailuresEveryRunCompletesFirstTime() {
    for plan in experiment(rate: 0).plans() {
      #expect(plan.restartTries == [nil])
      #expect(plan.resumeFailures == [0, 0, 0, 0, 0])
      #expect(plan.resumeCompletes)
    }
  }

  @Test func theDefinitionsNameEveryPlannedWorkflow() {
    let experiment = experiment(retries: 3)
    let plans = experiment.plans()
    let yaml = experiment.yaml(plans)
    for plan in plans {
      #expect(yaml.contains("name: \(SeedExperiment.resumeWorkflow(plan.resumeFailures))\n"))
      for step in plan.restartTries {
        #expect(yaml.contains("name: \(SeedExperiment.restartWorkflow(failingAt: step))\n"))
      }
    }
  }
}
