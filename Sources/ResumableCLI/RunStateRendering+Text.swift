public import ResumableWire
import Foundation

extension RunStateRendering {
  /// The run for people, as `resumable start|resume|state` prints it: a header line (run id,
  /// workflow, status), a table of the steps, the totals, the run's error with a hint to resume
  /// when it FAILED, and when it expires; with `includeArtifacts`, each artifact (JSON
  /// pretty-printed, cut after `artifactPreviewCharacters` characters or 40 lines).
  /// - Parameters:
  ///   - state: The run.
  ///   - includeArtifacts: Whether to print the artifacts.
  ///   - artifactPreviewCharacters: How much of each artifact to print at most.
  public static func text(
    _ state: RunState, includeArtifacts: Bool, artifactPreviewCharacters: Int = 2000
  ) -> String {
    var lines = [header(state), ""]
    lines += stepTable(state.steps)
    if state.runningSteps.count > 1 {
      lines.append("Running at once: \(state.runningSteps.joined(separator: ", "))")
    }
    for step in state.steps where !step.waitReason.isEmpty {
      lines.append("Waiting: \(step.name): \(step.waitReason)")
    }
    lines.append("")
    lines.append(
      "Cost: spent $\(usd(micros: state.cost.spentMicros)), saved by resume "
        + "$\(usd(micros: state.cost.savedByResumeMicros)); tokens: "
        + "\(state.cost.inputTokens) in, \(state.cost.cachedInputTokens) cached in, "
        + "\(state.cost.cacheWriteTokens) cache write, \(state.cost.outputTokens) out; resumes: \(state.resumes)")
    if state.budget.hasBudget {
      var line = "Budget: $\(usd(micros: state.budget.limitMicros))"
      if state.status == .awaitingBudget {
        line +=
          "; stopped at a projection of $\(usd(micros: state.budget.projectedMicros)) ($\(usd(micros: state.budget.spentMicros)) spent"
          + (state.budget.inFlightMicros > 0 ? " + $\(usd(micros: state.budget.inFlightMicros)) running" : "")
          + " + $\(usd(micros: state.budget.estimateMicros)) expected)"
      }
      lines.append(line)
    }
    if state.status == .failed {
      lines.append("Error: \(state.error.isEmpty ? "(no message)" : state.error)")
      lines.append(
        "Hint: once the cause is fixed, continue from the failed step with "
          + "`resumable resume \(state.workflowID)`")
    }
    if let expires = timestamp(unixMilliseconds: state.expiresAtMs) {
      lines.append("Expires: \(expires)")
    } else {
      lines.append("Expires: never")
    }
    if includeArtifacts {
      lines.append("")
      if state.artifacts.isEmpty {
        lines.append("Artifacts: none committed yet")
      }
      for artifact in state.artifacts {
        lines.append("Artifact \(artifact.step) (\(artifact.data.count) bytes):")
        lines += artifactPreview(artifact.data, maximumCharacters: artifactPreviewCharacters)
          .map { "  " + $0 }
      }
    }
    return lines.joined(separator: "\n")
  }

  private static func header(_ state: RunState) -> String {
    var line = "Run \(state.workflowID) of workflow \(state.workflow): \(state.status.renderedName)"
    if state.status != .completed, !state.currentStep.isEmpty {
      line += " at step \(state.currentStep)"
      if !state.steps.isEmpty {
        line += " (\(Int(state.currentStepIndex) + 1) of \(state.steps.count))"
      }
    }
    let approval = state.approval
    if !approval.token.isEmpty, approval.kind == "budget" {
      let until = timestamp(unixMilliseconds: approval.deadlineMs) ?? "?"
      line += "\nBudget needed to run step \(approval.step), until \(until):"
      line += "\n  resumable budget \(state.workflowID) --raise-to USD | --reject"
    } else if !approval.token.isEmpty {
      let why =
        approval.kind == "low_confidence"
        ? "its output's confidence \(approval.confidence) is below \(approval.threshold)" : "it asks before it runs"
      let until = timestamp(unixMilliseconds: approval.deadlineMs) ?? "?"
      line += "\nApproval needed for step \(approval.step) (\(why)), until \(until):"
      line += "\n  resumable approve \(state.workflowID) --token \(approval.token) [--reject] [--note TEXT]"
    }
    return line
  }

  private static func stepTable(_ steps: [StepRecord]) -> [String] {
    let titles = ["STEP", "STATUS", "ATTEMPTS", "COST (USD)", "ARTIFACT BYTES"]
    let rows =
      [titles]
      + steps.map { step in
        [
          step.name, step.status.renderedName + items(step), String(step.attempts), usd(micros: step.usage.costMicros),
          step.status == .completed ? String(step.artifactBytes) : "-",
        ]
      }
    // Names and statuses left-aligned, numbers right-aligned.
    return table(rows, leftAligned: 2)
  }

  /// A map step's items: " 3/10 items" (with failed and running ones), or nothing.
  static func items(_ step: StepRecord) -> String {
    guard step.itemsTotal > 0 else { return "" }
    var text = " \(step.itemsCommitted)/\(step.itemsTotal) items"
    if step.itemsRunning > 0 { text += ", \(step.itemsRunning) running" }
    if step.itemsFailed > 0 { text += ", \(step.itemsFailed) failed" }
    return text
  }

  /// Rows as aligned columns: the first `leftAligned` columns padded on the right, the
  /// others (numbers) on the left.
  static func table(_ rows: [[String]], leftAligned: Int) -> [String] {
    let columns = rows.map(\.count).max() ?? 0
    let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
    return rows.map { row in
      row.indices.map { column in
        let padding = String(repeating: " ", count: widths[column] - row[column].count)
        return column < leftAligned ? row[column] + padding : padding + row[column]
      }
      .joined(separator: "  ")
      .trimmingTrailingSpaces()
    }
  }

  /// The artifact as lines of text: JSON pretty-printed, other UTF-8 text as it is, binary data
  /// as a note; cut to `maximumCharacters` characters and 40 lines.
  private static func artifactPreview(_ bytes: [UInt8], maximumCharacters: Int) -> [String] {
    let text: String
    if let value = try? JSONSerialization.jsonObject(with: Data(bytes)),
      JSONSerialization.isValidJSONObject(value),
      let pretty = try? JSONSerialization.data(
        withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    {
      text = String(decoding: pretty, as: UTF8.self)
    } else if let utf8 = String(validating: bytes, as: UTF8.self) {
      text = utf8
    } else {
      return ["(\(bytes.count) bytes, not text: use --json to get them as base64)"]
    }
    let maximumLines = 40
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var shownCharacters = 0
    var cut = false
    for index in lines.indices {
      if index == maximumLines {
        lines.removeSubrange(index...)
        cut = true
        break
      }
      let room = maximumCharacters - shownCharacters
      if lines[index].count > room {
        lines[index] = String(lines[index].prefix(room))
        lines.removeSubrange((index + 1)...)
        cut = true
        break
      }
      shownCharacters += lines[index].count
    }
    if cut {
      lines.append("… (cut; use --json for the whole artifact)")
    }
    return lines
  }
}

extension String {
  fileprivate func trimmingTrailingSpaces() -> String {
    var result = self
    while result.last == " " { result.removeLast() }
    return result
  }
}
