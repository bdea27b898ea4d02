/// The workflow definitions the benchmarks run, as the YAML the server loads.
///
/// Every step is `simulate`; "no-op" means `latency_ms: 0` and no artifact
/// padding, so a step costs only the engine's work and its commit.
enum BenchWorkflows {
  /// 20 no-op steps: the step-overhead figure.
  static let noop20 = "noop-20"
  /// 1 no-op step: the fixed cost of a run, to separate it from the per-step cost.
  static let noop1 = "noop-1"
  /// 5 no-op steps: GetState and workflow throughput.
  static let noop5 = "noop-5"
  /// 5 no-op steps; step 4 fails its first attempt and has no retry budget:
  /// the run FAILS at step 4, ready for a resume.
  static let failAt4 = "fail-at-4"
  /// 5 steps whose first sleeps a minute: runs in flight, for memory.
  static let sleeping = "sleep-5"
  /// 5 no-op steps run by a worker (task `noop`): the worker step overhead,
  /// against `noop5` in the same run.
  static let worker5 = "worker-5"
  /// The task a bench worker serves.
  static let workerTask = "noop"
  /// 100 no-op steps in list order, against `map100`.
  static let noop100 = "noop-100"
  /// A map of `mapItems` no-op items, 16 at once (the map's `max_parallel` and
  /// the workflow's: items count toward both; its input is the list).
  static let map100 = "map-100"
  static let mapItems = 100

  /// `steps` steps writing `artifactBytes`-byte artifacts: storage per run.
  static func artifacts(steps: Int) -> String { "artifacts-\(steps)" }
  static let storageStepCounts = [5, 20, 50]
  static let artifactBytes = 2048

  static func yaml() -> String {
    var text = "workflows:\n"
    text += workflow(noop20, steps: 20)
    text += workflow(noop1, steps: 1)
    text += workflow(noop5, steps: 5)
    text += workflow(failAt4, steps: 5) { index in
      index == 3 ? "{latency_ms: 0, fail_attempts: 1}" : "{latency_ms: 0}"
    }
    text += workflow(sleeping, steps: 5) { index in
      index == 0 ? "{latency_ms: 60000}" : "{latency_ms: 0}"
    }
    text += workflow(worker5, steps: 5, plugin: "worker") { _ in "{task: \(workerTask)}" }
    text += workflow(noop100, steps: mapItems)
    text += """
        - name: \(map100)
          parallel: true
          max_parallel: 16
          steps:
            - name: each
              plugin: simulate
              inputs: [input]
              map: {over: input, max_parallel: 16, max_items: \(mapItems)}
              config: {latency_ms: 0}
              retry: {max_attempts: 1}

      """
    for count in storageStepCounts {
      text += workflow(artifacts(steps: count), steps: count) { _ in "{latency_ms: 0, artifact_bytes: \(artifactBytes)}" }
    }
    return text
  }

  /// One workflow: steps `s1`…`sN`, each reading the previous step's artifact
  /// (the first reads the input), one attempt each; `keys` are more of the
  /// workflow's keys (YAML lines, indented as `steps:`).
  static func workflow(
    _ name: String, steps: Int, plugin: String = "simulate", keys: String = "",
    config: (Int) -> String = { _ in "{latency_ms: 0}" }
  ) -> String {
    var text = "  - name: \(name)\n" + keys + "    steps:\n"
    for index in 0..<steps {
      text += """
            - name: s\(index + 1)
              plugin: \(plugin)
              inputs: [\(index == 0 ? "input" : "s\(index)")]
              config: \(config(index))
              retry: {max_attempts: 1}

        """
    }
    return text
  }
}
