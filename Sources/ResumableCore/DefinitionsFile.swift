import Foundation
import Yams

/// Loads workflow definitions from a YAML or JSON file and validates them.
///
/// The file's shape:
/// ```yaml
/// workflows:
///   - name: research
///     steps:
///       - name: search
///         plugin: simulate
///         inputs: [input]
///         config: {latency_ms: 50, cost_usd: 0.10}
///         retry: {max_attempts: 3, initial_backoff_ms: 100, max_backoff_ms: 5000, multiplier: 2.0}
///         timeout_ms: 30000
///         history: {last: 10}          # none (default), all, or {last: N}
///         max_artifact_bytes: 65536
///     max_input_bytes: 1048576
///     max_artifact_bytes: 1048576      # the default of the workflow's steps
///     history_max_messages: 1000
/// plugins:
///   simulate:
///     circuit_breaker: {failure_threshold: 5, cooldown_ms: 30000}   # or: off
/// ```
/// Unknown keys, unknown plugins, duplicate names and inputs that name a later
/// or unknown step are refused with a `DefinitionError` naming the file, the
/// workflow and the step.
public enum DefinitionsFile {
  /// Reads and validates the file at `path`.
  /// - Parameter registry: the registered plugins, to check `plugin:` and `config:` against.
  public static func load(path: String, registry: PluginRegistry) throws(DefinitionError) -> [WorkflowDefinition] {
    try loadDefinitions(path: path, registry: registry).workflows
  }

  /// Parses and validates definitions from YAML (or JSON, which YAML accepts) text.
  /// - Parameter file: the name to use in error messages.
  public static func parse(_ text: String, file: String, registry: PluginRegistry) throws(DefinitionError) -> [WorkflowDefinition] {
    try parseDefinitions(text, file: file, registry: registry).workflows
  }

  /// Reads and validates the file at `path`: workflows and plugin settings.
  /// - Parameter registry: the registered plugins, to check `plugin:` and `config:` against.
  public static func loadDefinitions(path: String, registry: PluginRegistry) throws(DefinitionError) -> Definitions {
    let text: String
    do {
      text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      throw DefinitionError(file: path, message: "cannot read the file: \(error.localizedDescription)")
    }
    return try parseDefinitions(text, file: path, registry: registry)
  }

  /// Parses and validates YAML (or JSON) text: workflows and plugin settings.
  /// - Parameter file: the name to use in error messages.
  public static func parseDefinitions(_ text: String, file: String, registry: PluginRegistry) throws(DefinitionError) -> Definitions {
    let document: JSONValue
    do {
      let trimmed = text.drop { $0.isWhitespace }
      if trimmed.first == "{" || trimmed.first == "[" {
        document = try JSONValue(parsing: Array(text.utf8))
      } else {
        try checkMappingKeys(Yams.compose(yaml: text))
        document = try JSONValue(yaml: Yams.load(yaml: text))
      }
    } catch let error as DefinitionError {
      throw DefinitionError(file: file, message: error.message)
    } catch {
      throw DefinitionError(file: file, message: "not valid YAML or JSON: \(error)")
    }
    return try parseDefinitions(document: document, file: file, registry: registry)
  }

  /// Validates definitions already parsed (e.g. a JSON document sent by a program).
  /// - Parameter file: the name to use in error messages.
  public static func parseDefinitions(
    document: JSONValue, file: String, registry: PluginRegistry
  ) throws(DefinitionError) -> Definitions {
    var parser = Parser(file: file, registry: registry)
    return try parser.parseDocument(document)
  }
}

/// What a definitions file defines.
public struct Definitions: Hashable, Sendable {
  /// The workflows runs can be started from.
  public var workflows: [WorkflowDefinition]
  /// Circuit breaker policies by plugin name (`plugins.NAME.circuit_breaker`).
  public var circuitBreakers: [String: CircuitBreakerPolicy]

  public init(workflows: [WorkflowDefinition], circuitBreakers: [String: CircuitBreakerPolicy] = [:]) {
    self.workflows = workflows
    self.circuitBreakers = circuitBreakers
  }

  /// Puts the file's plugin settings into an engine configuration.
  public func apply(to configuration: inout EngineConfiguration) {
    configuration.circuitBreakers.merge(circuitBreakers) { _, file in file }
  }
}

/// A definitions file that cannot be used, with where and why.
public struct DefinitionError: Error, Hashable, Sendable, CustomStringConvertible {
  public var file: String
  public var workflow: String?
  public var step: String?
  public var message: String

  public init(file: String, workflow: String? = nil, step: String? = nil, message: String) {
    self.file = file
    self.workflow = workflow
    self.step = step
    self.message = message
  }

  public var description: String {
    var location = file
    if let workflow { location += ": workflow '\(workflow)'" }
    if let step { location += ", step '\(step)'" }
    return "\(location): \(message)"
  }
}

extension JSONValue {
  /// Converts what Yams loads (`Any?`) into a JSON value.
  init(yaml: Any?) throws(DefinitionError) {
    switch yaml {
    case nil, is NSNull: self = .null
    case let value as Bool: self = .bool(value)
    case let value as Int: self = .number(Double(value))
    case let value as Double: self = .number(value)
    case let value as String: self = .string(value)
    case let value as [Any]:
      var items: [JSONValue] = []
      for item in value { items.append(try JSONValue(yaml: item)) }
      self = .array(items)
    case let value as [AnyHashable: Any]:
      var members: [String: JSONValue] = [:]
      for (key, item) in value {
        guard let key = key.base as? String else {
          throw DefinitionError(file: "", message: "mapping key \(key) is not a string")
        }
        members[key] = try JSONValue(yaml: item)
      }
      self = .object(members)
    default:
      throw DefinitionError(file: "", message: "unsupported YAML value \(String(describing: yaml))")
    }
  }
}

private struct Parser {
  let file: String
  let registry: PluginRegistry
  var workflow: String?
  var step: String?

  init(file: String, registry: PluginRegistry) {
    self.file = file
    self.registry = registry
  }

  func fail(_ message: String) -> DefinitionError {
    DefinitionError(file: file, workflow: workflow, step: step, message: message)
  }

  /// The members of a mapping, checked against `allowed` (nil: checked later, once the name is known).
  func object(_ value: JSONValue, _ what: String, allowed: Set<String>?) throws(DefinitionError) -> [String: JSONValue] {
    guard case .object(let members) = value else {
      throw fail("\(what) must be a mapping, not \(value.typeName)")
    }
    if let allowed { try checkKeys(members, what, allowed: allowed) }
    return members
  }

  /// A mapping with a `name` (a workflow or a step), which is stored at `naming`
  /// first, so that every later error names it, then checked against `allowed`.
  mutating func named(
    _ value: JSONValue, _ what: String, naming: WritableKeyPath<Self, String?>, allowed: Set<String>
  ) throws(DefinitionError) -> (members: [String: JSONValue], name: String) {
    let members = try object(value, what, allowed: nil)
    let name = try string(members["name"], "name")
    self[keyPath: naming] = name
    try checkKeys(members, what, allowed: allowed)
    return (members, name)
  }

  func checkKeys(_ members: [String: JSONValue], _ what: String, allowed: Set<String>) throws(DefinitionError) {
    if let first = members.keys.filter({ !allowed.contains($0) }).sorted().first {
      throw fail("unknown key '\(first)' in \(what) (allowed: \(allowed.sorted().joined(separator: ", ")))")
    }
  }

  func string(_ value: JSONValue?, _ key: String) throws(DefinitionError) -> String {
    guard let value else { throw fail("missing '\(key)'") }
    guard case .string(let text) = value, !text.isEmpty else {
      throw fail("'\(key)' must be a non-empty string, not \(value.typeName)")
    }
    return text
  }

  func integer(_ value: JSONValue?, _ key: String, minimum: Int) throws(DefinitionError) -> Int? {
    guard let value else { return nil }
    guard case .number(let number) = value, number.rounded() == number, number >= Double(minimum),
      number < 1e15
    else {
      throw fail("'\(key)' must be a whole number ≥ \(minimum)")
    }
    return Int(number)
  }

  mutating func parseDocument(_ document: JSONValue) throws(DefinitionError) -> Definitions {
    let top = try object(document, "the file", allowed: ["workflows", "plugins", "limits"])
    guard case .array(let items)? = top["workflows"] else {
      throw fail("the file needs a 'workflows' list")
    }
    let limits = try parseLimits(top["limits"])
    var workflows: [WorkflowDefinition] = []
    var names: Set<String> = []
    for item in items {
      workflow = nil
      step = nil
      var definition = try parseWorkflow(item)
      for named in definition.steps {
        for limit in named.limits {
          guard let spec = limits[limit] else {
            step = named.name
            let known = limits.keys.sorted().joined(separator: ", ")
            throw fail("'limits' names unknown limit '\(limit)' (the file's limits: \(known.isEmpty ? "none" : known))")
          }
          definition.limits[limit] = spec
        }
      }
      step = nil
      try definition.validate(registry: registry, file: file)
      guard names.insert(definition.name).inserted else {
        workflow = definition.name
        throw fail("duplicate workflow name")
      }
      workflows.append(definition)
    }
    workflow = nil
    step = nil
    return Definitions(workflows: workflows, circuitBreakers: try parsePlugins(top["plugins"]))
  }

  /// `limits: {NAME: {rate: N, per_ms: M, burst: B} | {concurrency: N} | {tokens_per_minute: N}}`,
  /// each with an optional `key: "{{input.FIELD}}"`.
  func parseLimits(_ value: JSONValue?) throws(DefinitionError) -> [String: SharedLimit] {
    guard let value else { return [:] }
    var limits: [String: SharedLimit] = [:]
    for (name, settings) in try object(value, "'limits'", allowed: nil).sorted(by: { $0.key < $1.key }) {
      if let problem = WorkflowDefinition.nameProblem(name, what: "limit name") { throw fail(problem) }
      do {
        limits[name] = try parseLimit(settings)
      } catch {
        throw fail("limit '\(name)': \(error.message)")
      }
    }
    return limits
  }

  /// One entry of `limits:` (its errors say what is wrong, the caller which limit).
  func parseLimit(_ settings: JSONValue) throws(DefinitionError) -> SharedLimit {
    let fields = try object(
      settings, "the limit", allowed: ["rate", "per_ms", "burst", "concurrency", "tokens_per_minute", "key"])
    let kinds = ["rate", "concurrency", "tokens_per_minute"].filter { fields[$0] != nil }
    guard kinds.count == 1 else {
      throw fail("it needs exactly one of rate (with per_ms), concurrency or tokens_per_minute")
    }
    let kind: SharedLimit.Kind
    switch kinds[0] {
    case "rate":
      let count = try integer(fields["rate"], "rate", minimum: 1) ?? 1
      guard let perMs = try integer(fields["per_ms"], "per_ms", minimum: 1) else {
        throw fail("a rate needs per_ms (the window, in milliseconds)")
      }
      kind = .rate(count: count, perMs: perMs, burst: try integer(fields["burst"], "burst", minimum: 1) ?? 1)
    case "concurrency":
      kind = .concurrency(try integer(fields["concurrency"], "concurrency", minimum: 1) ?? 1)
    default:
      kind = .tokensPerMinute(try integer(fields["tokens_per_minute"], "tokens_per_minute", minimum: 1) ?? 1)
    }
    if case .rate = kind {
    } else if let key = ["per_ms", "burst"].first(where: { fields[$0] != nil }) {
      throw fail("'\(key)' applies to a rate limit only")
    }
    var key: String?
    if let template = fields["key"] {
      guard let text = template.stringValue, !text.isEmpty, SharedLimit.keyParts(text) != nil else {
        throw fail("'key' must be text with {{input.FIELD}} parts (a field of the workflow's input), e.g. \"{{input.tenant}}\"")
      }
      key = text
    }
    return SharedLimit(kind: kind, key: key)
  }

  /// `plugins: {NAME: {circuit_breaker: {failure_threshold: N, cooldown_ms: M} | off}}`.
  func parsePlugins(_ value: JSONValue?) throws(DefinitionError) -> [String: CircuitBreakerPolicy] {
    guard let value else { return [:] }
    var breakers: [String: CircuitBreakerPolicy] = [:]
    for (name, settings) in try object(value, "'plugins'", allowed: nil).sorted(by: { $0.key < $1.key }) {
      guard registry.plugin(named: name) != nil else {
        throw fail("'plugins' names unknown plugin '\(name)' (registered: \(registry.names.sorted().joined(separator: ", ")))")
      }
      let members = try object(settings, "plugin '\(name)'", allowed: ["circuit_breaker"])
      switch members["circuit_breaker"] {
      case nil:
        continue
      case .string("off")?, .bool(false)?:
        breakers[name] = .off
      case let breaker?:
        let fields = try object(
          breaker, "the circuit_breaker of plugin '\(name)' (or 'off')", allowed: ["failure_threshold", "cooldown_ms"])
        var policy = CircuitBreakerPolicy()
        if let threshold = try integer(fields["failure_threshold"], "failure_threshold", minimum: 1) {
          policy.failureThreshold = threshold
        }
        if let cooldown = try integer(fields["cooldown_ms"], "cooldown_ms", minimum: 1) {
          policy.cooldown = .milliseconds(cooldown)
        }
        breakers[name] = policy
      }
    }
    return breakers
  }

  mutating func parseWorkflow(_ value: JSONValue) throws(DefinitionError) -> WorkflowDefinition {
    let (members, name) = try named(
      value, "a workflow", naming: \.workflow,
      allowed: [
        "name", "steps", "max_input_bytes", "max_artifact_bytes", "history_max_messages", "parallel", "max_parallel",
        "on_failure", "budget_usd", "on_budget", "max_spend_per_hour_usd",
      ])
    guard case .array(let items)? = members["steps"], !items.isEmpty else {
      throw fail("a workflow needs a non-empty 'steps' list")
    }
    let maxInput = try integer(members["max_input_bytes"], "max_input_bytes", minimum: 1)
    let maxArtifact = try integer(members["max_artifact_bytes"], "max_artifact_bytes", minimum: 1)
    let maxHistory = try integer(members["history_max_messages"], "history_max_messages", minimum: 1)
    var steps: [StepDefinition] = []
    for item in items {
      step = nil
      var definition = try parseStep(item)
      definition.maxArtifactBytes = definition.maxArtifactBytes ?? maxArtifact
      steps.append(definition)
    }
    step = nil
    var parallelism: WorkflowDefinition.Parallelism?
    switch members["parallel"] {
    case nil, .bool(false)?:
      if let key = ["max_parallel", "on_failure"].first(where: { members[$0] != nil }) {
        throw fail("'\(key)' applies to parallel workflows only (add 'parallel: true')")
      }
    case .bool(true)?:
      var settings = WorkflowDefinition.Parallelism()
      settings.maxParallel = try integer(members["max_parallel"], "max_parallel", minimum: 1) ?? settings.maxParallel
      if let value = members["on_failure"] {
        guard let text = value.stringValue, let onFailure = WorkflowDefinition.OnFailure(rawValue: text) else {
          throw fail("'on_failure' must be finish or cancel")
        }
        settings.onFailure = onFailure
      }
      parallelism = settings
    default:
      throw fail("'parallel' must be true or false")
    }
    var onBudget = WorkflowDefinition.OnBudget.pause
    if let value = members["on_budget"] {
      guard let text = value.stringValue, let parsed = WorkflowDefinition.OnBudget(rawValue: text) else {
        throw fail("'on_budget' must be pause or fail")
      }
      onBudget = parsed
    }
    return WorkflowDefinition(
      name: name, steps: steps, maxInputBytes: maxInput, maxHistoryMessages: maxHistory, parallelism: parallelism,
      budgetMicros: try dollars(members["budget_usd"], "budget_usd"), onBudget: onBudget,
      maxSpendPerHourMicros: try dollars(members["max_spend_per_hour_usd"], "max_spend_per_hour_usd", positive: true))
  }

  /// An amount of US dollars (a finite number ≥ 0, or > 0 when `positive`), in micro-dollars.
  func dollars(_ value: JSONValue?, _ key: String, positive: Bool = false) throws(DefinitionError) -> Int64? {
    guard let value else { return nil }
    guard let micros = Money.micros(fromDollars: value.numberValue), !positive || micros > 0 else {
      throw fail("'\(key)' must be a finite number of US dollars \(positive ? "above 0" : "≥ 0"), not \(value.numberValue.map { "\($0)" } ?? value.typeName)")
    }
    return micros
  }

  /// `history: none | all | {last: N}`.
  /// `approval: before` or `approval: {below_confidence: 0.7}`.
  func parseApproval(_ value: JSONValue?) throws(DefinitionError) -> ApprovalPolicy? {
    guard let value else { return nil }
    if value.stringValue == "before" { return .before }
    if case .object = value {
      let fields = try object(value, "'approval'", allowed: ["below_confidence"])
      guard let threshold = fields["below_confidence"]?.numberValue, threshold > 0, threshold <= 1 else {
        throw fail("'approval.below_confidence' must be a number above 0, at most 1")
      }
      return .belowConfidence(threshold)
    }
    throw fail("'approval' must be 'before' or {below_confidence: N} (N from 0 to 1)")
  }

  func parseHistory(_ value: JSONValue?) throws(DefinitionError) -> HistoryPolicy {
    switch value {
    case nil, .string("none")?: return .none
    case .string("all")?: return .all
    case .object(let members)?:
      try checkKeys(members, "'history'", allowed: ["last"])
      guard let count = try integer(members["last"], "last", minimum: 1) else {
        throw fail("'history' as a mapping needs 'last: N' (N ≥ 1)")
      }
      return .last(count)
    default:
      throw fail("'history' must be none, all or {last: N}")
    }
  }

  /// A list of names (absent: none).
  func names(_ value: JSONValue?, _ problem: String) throws(DefinitionError) -> [String] {
    guard let value else { return [] }
    guard case .array(let items) = value else { throw fail(problem) }
    var names: [String] = []
    for item in items {
      guard case .string(let name) = item else { throw fail(problem) }
      names.append(name)
    }
    return names
  }

  mutating func parseStep(_ value: JSONValue) throws(DefinitionError) -> StepDefinition {
    let (members, name) = try named(
      value, "the step", naming: \.step,
      allowed: [
        "name", "plugin", "config", "inputs", "retry", "timeout_ms", "history", "max_artifact_bytes", "approval",
        "approval_timeout_ms", "heartbeat_timeout_ms", "schedule_to_start_ms", "after", "map",
        "estimated_cost_usd", "limits",
      ])
    // Names, plugins, configs and inputs are checked once the workflow is
    // built, by the rules Swift-built definitions meet too (`validate`).
    let plugin = try string(members["plugin"], "plugin")
    let config = members["config"] ?? .object([:])
    let inputs = try names(members["inputs"], "'inputs' must be a list of names")
    let after = try names(members["after"], "'after' must be a list of step names")
    var map: StepDefinition.MapSpec?
    if let value = members["map"] {
      let fields = try object(value, "'map'", allowed: ["over", "max_parallel", "max_items"])
      var spec = StepDefinition.MapSpec(over: try string(fields["over"], "over"))
      spec.maxParallel = try integer(fields["max_parallel"], "max_parallel", minimum: 1)
      spec.maxItems = try integer(fields["max_items"], "max_items", minimum: 1) ?? spec.maxItems
      map = spec
    }
    var retry = RetryPolicy()
    if let retryValue = members["retry"] {
      let fields = try object(
        retryValue, "'retry'",
        allowed: ["max_attempts", "initial_backoff_ms", "max_backoff_ms", "multiplier"])
      retry.maxAttempts = try integer(fields["max_attempts"], "max_attempts", minimum: 1) ?? retry.maxAttempts
      retry.initialBackoffMilliseconds =
        try integer(fields["initial_backoff_ms"], "initial_backoff_ms", minimum: 0)
        ?? retry.initialBackoffMilliseconds
      retry.maxBackoffMilliseconds =
        try integer(fields["max_backoff_ms"], "max_backoff_ms", minimum: 0) ?? retry.maxBackoffMilliseconds
      if let multiplier = fields["multiplier"] {
        guard case .number(let number) = multiplier, number >= 1, number <= 100 else {
          throw fail("'multiplier' must be a number from 1 to 100")
        }
        retry.multiplier = number
      }
    }
    let timeout = try integer(members["timeout_ms"], "timeout_ms", minimum: 1)
    return StepDefinition(
      name: name, plugin: plugin, config: config, inputs: inputs, retry: retry,
      timeoutMilliseconds: timeout, history: try parseHistory(members["history"]),
      maxArtifactBytes: try integer(members["max_artifact_bytes"], "max_artifact_bytes", minimum: 1),
      approval: try parseApproval(members["approval"]),
      approvalTimeoutMilliseconds: try integer(members["approval_timeout_ms"], "approval_timeout_ms", minimum: 1),
      heartbeatTimeoutMilliseconds: try integer(members["heartbeat_timeout_ms"], "heartbeat_timeout_ms", minimum: 1),
      scheduleToStartMilliseconds: try integer(members["schedule_to_start_ms"], "schedule_to_start_ms", minimum: 1),
      after: after, map: map, estimatedCostMicros: try dollars(members["estimated_cost_usd"], "estimated_cost_usd"),
      limits: try names(members["limits"], "'limits' must be a list of limit names"))
  }
}
