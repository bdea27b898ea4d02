import Dispatch
import Metrics

/// The engine's metrics, through swift-metrics (no-ops until the process
/// bootstraps a backend). Labels are workflow and step names from the
/// definitions file, so their number is bounded by it.
///
/// - `resumable_step_attempts_total{workflow,step,plugin}`, `resumable_step_failures_total{…}`
///   and `resumable_step_duration_seconds{…}` (a histogram): each attempt of each step;
/// - `resumable_step_commits_total{workflow,step}`: steps committed;
/// - `resumable_resumes_total{workflow}`: runs continued at their failed or interrupted step,
///   by a `ResumeWorkflow` call or by the recovery loop;
/// - `resumable_lease_takeovers_total{workflow}`: of those, runs taken from a runner whose
///   lease lapsed (RUNNING, its server died or stalled);
/// - `resumable_recoveries_total{workflow}`: runs adopted by the recovery loop;
/// - `resumable_runs_in_flight`: runs this engine is driving;
/// - `resumable_cost_spent_usd_total{workflow}`: cost of every attempt recorded, failed ones too;
/// - `resumable_cost_saved_by_resume_usd_total{workflow}`: cost of committed steps a resume did not run again;
/// - `resumable_tokens_total{workflow,kind}`: tokens of every attempt recorded, by `kind`: `input`
///   (at the full input price), `output`, `cached_input` (read from a prompt cache), `cache_write`;
/// - `resumable_budget_stops_total{workflow}`: attempts not started because they would pass their run's budget;
/// - `resumable_spend_waits_total{workflow,cap}`: attempts held back by a spend cap (`server` or `workflow`);
/// - `resumable_spend_last_hour_usd{cap}`: what the cap's window held when last read;
/// - `resumable_limit_waits_total{workflow,limit,why}`: attempts held back by a shared limit.
enum EngineMetrics {
  static let runsInFlight = Meter(label: "resumable_runs_in_flight")

  static func stepAttempt(workflow: String, step: StepDefinition, failed: Bool, since started: DispatchTime) {
    let dimensions = [("workflow", workflow), ("step", step.name), ("plugin", step.plugin)]
    Counter(label: "resumable_step_attempts_total", dimensions: dimensions).increment()
    if failed { Counter(label: "resumable_step_failures_total", dimensions: dimensions).increment() }
    Metrics.Timer(label: "resumable_step_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
      .recordInterval(since: started)
  }

  static func committed(workflow: String, step: String) {
    Counter(label: "resumable_step_commits_total", dimensions: [("workflow", workflow), ("step", step)]).increment()
  }

  /// An attempt's usage recorded: its cost and its four token counts.
  static func charged(workflow: String, usage: StepUsage) {
    if usage.costMicros > 0 {
      FloatingPointCounter(label: "resumable_cost_spent_usd_total", dimensions: [("workflow", workflow)])
        .increment(by: Double(usage.costMicros) / 1_000_000)
    }
    for (kind, tokens) in [
      ("input", usage.inputTokens), ("output", usage.outputTokens), ("cached_input", usage.cachedInputTokens),
      ("cache_write", usage.cacheWriteTokens),
    ] where tokens > 0 {
      Counter(label: "resumable_tokens_total", dimensions: [("workflow", workflow), ("kind", kind)])
        .increment(by: Int64(clamping: tokens))
    }
  }

  /// A run continued at its failed or interrupted step, by a resume or by the recovery loop.
  static func tookOver(workflow: String, fromLapsedLease: Bool, savedMicros: Int64) {
    let dimensions = [("workflow", workflow)]
    Counter(label: "resumable_resumes_total", dimensions: dimensions).increment()
    if fromLapsedLease { Counter(label: "resumable_lease_takeovers_total", dimensions: dimensions).increment() }
    if savedMicros > 0 {
      FloatingPointCounter(label: "resumable_cost_saved_by_resume_usd_total", dimensions: dimensions)
        .increment(by: Double(savedMicros) / 1_000_000)
    }
  }

  /// A run adopted by the recovery loop.
  static func recovered(workflow: String) {
    Counter(label: "resumable_recoveries_total", dimensions: [("workflow", workflow)]).increment()
  }

  /// An attempt not started: it would have passed its run's budget.
  static func budgetStop(workflow: String) {
    Counter(label: "resumable_budget_stops_total", dimensions: [("workflow", workflow)]).increment()
  }

  /// An attempt held back by a spend cap whose window held `spentMicros`.
  static func spendWait(workflow: String, cap: String) {
    Counter(label: "resumable_spend_waits_total", dimensions: [("workflow", workflow), ("cap", cap)]).increment()
  }

  /// What a spend cap's window held when last read.
  static func spendWindow(cap: String, spentMicros: Int64) {
    Gauge(label: "resumable_spend_last_hour_usd", dimensions: [("cap", cap)]).record(Double(spentMicros) / 1_000_000)
  }

  /// An attempt held back by shared limit `limit`, for `why` (rate, full, tokens, held).
  static func limitWait(workflow: String, limit: String, why: String) {
    Counter(label: "resumable_limit_waits_total", dimensions: [("workflow", workflow), ("limit", limit), ("why", why)]).increment()
  }
}
