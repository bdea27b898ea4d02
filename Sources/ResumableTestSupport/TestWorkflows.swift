// The definitions files the end-to-end tests serve, as YAML text.

/// The research workflow of the README, with fast steps and a record file;
/// `draft` (step 4) fails its first `failDraft` attempts and has one attempt per drive.
/// Also `echo` (three echo steps) and `slow` (two steps of 400 ms).
public func researchYAML(record: String, latency: Int = 5, failDraft: Int = 1) -> String {
  func step(_ name: String, _ inputs: String, extra: String = "") -> String {
    """
          - name: \(name)
            plugin: simulate
            inputs: [\(inputs)]
            config: {latency_ms: \(latency), cost_usd: 0.10, input_tokens: 100, output_tokens: 50, record: \(record)\(extra)}
            retry: {max_attempts: 1}

    """
  }
  return "workflows:\n  - name: research\n    steps:\n"
    + step("search", "input") + step("extract", "search") + step("outline", "extract")
    + step("draft", "outline, extract", extra: ", fail_attempts: \(failDraft)") + step("verify", "draft, outline")
    + """
      - name: echo
        steps:
          - {name: first, plugin: echo, inputs: [input]}
          - {name: second, plugin: echo, inputs: [first]}
          - {name: third, plugin: echo, inputs: [input, second]}
      - name: slow
        steps:
          - {name: one, plugin: simulate, config: {latency_ms: 400, record: \(record)}}
          - {name: two, plugin: simulate, config: {latency_ms: 400, record: \(record)}}
    """
}

/// Two workflows that wait for a person: `gated` asks before its second step (the answer
/// is due within `timeoutMs`), `unsure` after a first step whose confidence is below the
/// threshold. Every step writes to the record file `record`.
public func approvalYAML(record: String, timeoutMs: Int = 3_600_000) -> String {
  """
  workflows:
    - name: gated
      steps:
        - {name: research, plugin: simulate, config: {cost_usd: 0.1, record: \(record)}}
        - {name: publish, plugin: simulate, inputs: [research], approval: before, approval_timeout_ms: \(timeoutMs), config: {record: \(record)}}
    - name: unsure
      steps:
        - {name: draft, plugin: simulate, approval: {below_confidence: 0.7}, config: {confidence: 0.55, cost_usd: 0.2, record: \(record)}}
        - {name: send, plugin: simulate, inputs: [draft], config: {record: \(record)}}
  """
}

/// `gated` holds its first step while `gate` exists (retryable failures,
/// 20 ms apart, no circuit breaker), then runs three steps; `doomed` fails at once.
public func gatedYAML(gate: String) -> String {
  """
  plugins: {simulate: {circuit_breaker: off}}
  workflows:
    - name: gated
      steps:
        - name: wait
          plugin: simulate
          config: {latency_ms: 1, fail_while_file_exists: \(gate)}
          retry: {max_attempts: 100000, initial_backoff_ms: 20, max_backoff_ms: 20}
        - {name: work, plugin: simulate, inputs: [wait], config: {latency_ms: 5, cost_usd: 0.1}}
        - {name: finish, plugin: simulate, inputs: [work], config: {latency_ms: 5}}
    - name: doomed
      steps:
        - {name: only, plugin: simulate, config: {fail_permanently: true}}
  """
}
