extension WorkflowDefinition {
  /// Checks the rules every definition must meet, whether it comes from a
  /// definitions file or is built in Swift: at least one step; names of
  /// letters, digits, `-`, `_` and `.`; unique step names, none of them
  /// `input`; registered plugins whose `validate(config:)` accepts the
  /// config; inputs that name `input` or earlier steps, each once.
  ///
  /// - Parameter file: where the definition comes from, for the error.
  /// - Throws: the first problem, naming the workflow and the step.
  public func validate(registry: PluginRegistry, file: String) throws(DefinitionError) {
    func fail(_ step: String?, _ message: String) -> DefinitionError {
      DefinitionError(file: file, workflow: name, step: step, message: message)
    }
    if let problem = Self.nameProblem(name, what: "workflow name") { throw fail(nil, problem) }
    if steps.isEmpty { throw fail(nil, "a workflow needs a non-empty 'steps' list") }
    var earlier: Set<String> = []
    let allNames = Set(steps.map(\.name))
    for step in steps {
      if let problem = Self.nameProblem(step.name, what: "step name") { throw fail(step.name, problem) }
      if step.name == StepDefinition.workflowInputName {
        throw fail(step.name, "'\(step.name)' is reserved for the workflow's input")
      }
      if earlier.contains(step.name) { throw fail(step.name, "duplicate step name") }
      guard let plugin = registry.plugin(named: step.plugin) else {
        throw fail(
          step.name,
          "unknown plugin '\(step.plugin)' (registered: \(registry.names.sorted().joined(separator: ", ")))")
      }
      guard case .object = step.config else {
        throw fail(step.name, "'config' must be a mapping, not \(step.config.typeName)")
      }
      do {
        try plugin.validate(config: step.config)
      } catch {
        throw fail(step.name, "plugin '\(step.plugin)': \(error.message)")
      }
      if let unknown = step.limits.first(where: { limits[$0] == nil }) {
        throw fail(step.name, "'limits' names unknown limit '\(unknown)'")
      }
      var inputs: Set<String> = []
      for input in step.inputs {
        if input == step.name { throw fail(step.name, "input '\(input)' names the step itself") }
        // In list order, a step reads earlier steps; in a parallel workflow, any step but a cycle.
        let known = parallelism == nil ? earlier.contains(input) : allNames.contains(input)
        if input != StepDefinition.workflowInputName && !known {
          guard parallelism == nil else { throw fail(step.name, "input '\(input)' names an unknown step") }
          throw fail(step.name, "input '\(input)' names a later or unknown step; a step can read 'input' and earlier steps only")
        }
        if !inputs.insert(input).inserted { throw fail(step.name, "input '\(input)' is listed twice") }
      }
      if !step.after.isEmpty {
        guard parallelism != nil else {
          throw fail(step.name, "'after' orders steps of parallel workflows only (list order does it here)")
        }
        for name in step.after where name == step.name || !allNames.contains(name) {
          throw fail(step.name, "'after' names \(name == step.name ? "the step itself" : "an unknown step '\(name)'")")
        }
      }
      if let map = step.map {
        guard parallelism != nil else { throw fail(step.name, "'map' runs in parallel workflows only (add 'parallel: true')") }
        let source = map.source
        if let name = source.step, !dependencies(of: step).contains(name) {
          throw fail(
            step.name,
            "'map.over' names '\(name)', which is not a step this one waits for: list it in 'inputs' (or use input.FIELD)")
        }
        if source.step == nil, !step.inputs.contains(StepDefinition.workflowInputName) {
          throw fail(step.name, "'map.over' reads the workflow's input: list 'input' in 'inputs'")
        }
      }
      if parallelism != nil, step.approval != nil {
        throw fail(step.name, "'approval' is not supported in parallel workflows yet")
      }
      if step.plugin != WorkerPlugin.name,
        let key = step.heartbeatTimeoutMilliseconds != nil
          ? "heartbeat_timeout_ms" : step.scheduleToStartMilliseconds != nil ? "schedule_to_start_ms" : nil
      {
        throw fail(step.name, "'\(key)' applies to 'plugin: worker' steps only")
      }
      if step.retry.maxAttempts < 1 { throw fail(step.name, "'max_attempts' must be a whole number ≥ 1") }
      earlier.insert(step.name)
    }
    if let cycle = firstCycle() {
      throw fail(cycle[0], "the steps form a cycle: \(cycle.joined(separator: " → "))")
    }
  }

  /// A cycle among the steps' dependencies (`inputs` and `after`), as the
  /// names along it with the first repeated at the end; nil when there is none.
  func firstCycle() -> [String]? {
    let byName = Dictionary(steps.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    var state: [String: Bool] = [:]  // false: on the current path; true: done
    var path: [String] = []
    func visit(_ name: String) -> [String]? {
      if state[name] == true { return nil }
      if state[name] == false {
        return Array(path[path.firstIndex(of: name)!...]) + [name]
      }
      guard let step = byName[name] else { return nil }
      state[name] = false
      path.append(name)
      for dependency in dependencies(of: step) {
        if let cycle = visit(dependency) { return cycle }
      }
      path.removeLast()
      state[name] = true
      return nil
    }
    for step in steps {
      if let cycle = visit(step.name) { return cycle }
    }
    return nil
  }

  /// Why `name` cannot name a workflow or a step, if it cannot.
  static func nameProblem(_ name: String, what: String) -> String? {
    let allowed = name.utf8.allSatisfy { byte in
      (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
        || byte == 0x2D || byte == 0x5F || byte == 0x2E
    }
    guard allowed, !name.isEmpty, name.utf8.count <= 128 else {
      return "\(what) '\(name)' may use only letters, digits, '-', '_' and '.' (at most 128)"
    }
    return nil
  }
}

extension Array where Element == WorkflowDefinition {
  /// Validates each definition (``WorkflowDefinition/validate(registry:file:)``)
  /// and that no two share a name.
  public func validate(registry: PluginRegistry, file: String) throws(DefinitionError) {
    var names: Set<String> = []
    for definition in self {
      try definition.validate(registry: registry, file: file)
      guard names.insert(definition.name).inserted else {
        throw DefinitionError(file: file, workflow: definition.name, message: "duplicate workflow name")
      }
    }
  }
}
