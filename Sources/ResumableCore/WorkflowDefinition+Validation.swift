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
      var inputs: Set<String> = []
      for input in step.inputs {
        if input != StepDefinition.workflowInputName && !earlier.contains(input) {
          let later = input == step.name ? "the step itself" : "a later or unknown step"
          throw fail(step.name, "input '\(input)' names \(later); a step can read 'input' and earlier steps only")
        }
        if !inputs.insert(input).inserted { throw fail(step.name, "input '\(input)' is listed twice") }
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
