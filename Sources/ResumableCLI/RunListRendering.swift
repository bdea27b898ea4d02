import Foundation
public import ResumableWire

/// How the CLI prints a page of runs (`resumable list`) and the server's health.
public enum RunListRendering {
  /// A table, newest first, and how to get the next page.
  public static func text(_ page: ListWorkflowsResponse) -> String {
    guard !page.runs.isEmpty else { return "No runs." + nextPage(page.nextCursor) }
    let rows =
      [["RUN", "WORKFLOW", "STATUS", "STEP", "CREATED", "COST (USD)"]]
      + page.runs.map { run in
        [
          run.workflowID, run.workflow, run.status.renderedName,
          "\(run.currentStepIndex + 1)/\(run.stepCount) \(run.currentStep)",
          RunStateRendering.timestamp(unixMilliseconds: run.createdAtMs) ?? "-",
          RunStateRendering.usd(micros: run.cost.spentMicros),
        ]
      }
    return RunStateRendering.table(rows, leftAligned: 5).joined(separator: "\n") + nextPage(page.nextCursor)
  }

  private static func nextPage(_ cursor: String) -> String {
    cursor.isEmpty ? "" : "\nMore: resumable list --cursor \(cursor)"
  }

  /// `{"runs": [...], "next_cursor": "…" | null}`.
  public static func json(_ page: ListWorkflowsResponse) -> String {
    let runs: [[String: Any]] = page.runs.map { run in
      [
        "workflow_id": run.workflowID, "workflow": run.workflow, "status": run.status.renderedName,
        "current_step": run.currentStep, "current_step_index": Int(run.currentStepIndex),
        "step_count": Int(run.stepCount), "created_at": RunStateRendering.timestampOrNull(run.createdAtMs),
        "updated_at": RunStateRendering.timestampOrNull(run.updatedAtMs),
        "spent_usd": RunStateRendering.dollars(micros: run.cost.spentMicros),
        "saved_by_resume_usd": RunStateRendering.dollars(micros: run.cost.savedByResumeMicros),
        "error": RunStateRendering.nullIfEmpty(run.error),
      ]
    }
    return RunStateRendering.serialize(["runs": runs, "next_cursor": RunStateRendering.nullIfEmpty(page.nextCursor)])
  }

  /// The health as lines of text.
  public static func text(_ health: HealthResponse) -> String {
    var lines = ["\(health.status) — resumable \(health.version)"]
    lines.append(
      health.redisReachable
        ? "redis: reachable, \(health.redisLatencyUs) µs round trip" : "redis: UNREACHABLE: \(health.redisError)")
    if health.redisReachable, !health.redisError.isEmpty { lines.append("note: \(health.redisError)") }
    lines.append("runs in flight: \(health.runsInFlight)")
    lines.append("uptime: \(health.uptimeMs / 1000) s")
    if health.maxSpendPerHourMicros > 0 {
      lines.append(
        "spend guard: $\(RunStateRendering.usd(micros: health.spentLastHourMicros)) spent in the last hour (every server), "
          + "cap $\(RunStateRendering.usd(micros: health.maxSpendPerHourMicros))")
    }
    return lines.joined(separator: "\n")
  }

  /// The health as one JSON object.
  public static func json(_ health: HealthResponse) -> String {
    RunStateRendering.serialize([
      "status": health.status, "version": health.version, "redis_reachable": health.redisReachable,
      "redis_latency_us": health.redisLatencyUs, "redis_error": RunStateRendering.nullIfEmpty(health.redisError),
      "runs_in_flight": Int(health.runsInFlight), "uptime_ms": health.uptimeMs,
      "spend_guard": health.maxSpendPerHourMicros > 0
        ? [
          "max_spend_per_hour_usd": RunStateRendering.dollars(micros: health.maxSpendPerHourMicros),
          "spent_last_hour_usd": RunStateRendering.dollars(micros: health.spentLastHourMicros),
        ] as [String: Any] : NSNull(),
    ])
  }
}
