/// Workflows defined in code: validated as a definitions file is, stored in
/// the state store, so every server sharing it can start, drive and recover
/// their runs.
extension WorkflowEngine {
  /// One workflow of a `registerWorkflows` call, as registered.
  public struct Registration: Hashable, Sendable {
    public var name: String
    /// 1 for a name's first registration, one more each time its content changed.
    public var version: UInt32
    /// False when this content was the latest version already.
    public var changed: Bool
  }

  /// The name registered definitions are named by in error messages.
  static let registeredDefinitionsFile = "the registered definitions"

  /// Validates and registers the workflows of `definitionsJSON` (the
  /// definitions file's schema, as JSON, without `plugins`), in its order.
  /// Nothing is registered unless every workflow is valid.
  /// - Throws: INVALID_ARGUMENT for JSON or a definition that is not valid
  ///   (naming the workflow and the step); ALREADY_EXISTS for a name this
  ///   server's definitions file defines with other content.
  public func registerWorkflows(definitionsJSON: String) async throws(EngineError) -> [Registration] {
    let document: JSONValue
    do {
      document = try JSONValue(parsing: Array(definitionsJSON.utf8))
    } catch {
      throw EngineError(.invalidArgument, "the definitions are not valid JSON: \(error.message)")
    }
    if document.objectValue?["plugins"] != nil {
      throw EngineError(
        .invalidArgument,
        "'plugins' settings belong to each server's definitions file and cannot be registered; send only 'workflows'")
    }
    let definitions: Definitions
    do {
      definitions = try DefinitionsFile.parseDefinitions(
        document: document, file: Self.registeredDefinitionsFile, registry: registry)
    } catch {
      throw EngineError(.invalidArgument, error.description)
    }
    for definition in definitions.workflows {
      if let fromFile = workflows[definition.name], fromFile != definition {
        throw EngineError(
          .alreadyExists,
          "workflow '\(definition.name)' is defined by this server's definitions file with other steps; "
            + "register it under another name (nothing was registered)")
      }
    }
    var registrations: [Registration] = []
    for definition in definitions.workflows {
      let registered = try await EngineError.answering(about: "") { try await store.registerWorkflow(definition) }
      if registered.changed {
        logger.notice(
          "workflow registered", metadata: ["workflow": "\(definition.name)", "version": "\(registered.version)"])
      }
      registrations.append(Registration(name: definition.name, version: registered.version, changed: registered.changed))
    }
    return registrations
  }

  /// The definition a new run of `workflow` starts from: this server's
  /// definitions file first, then the latest registered version.
  /// - Throws: NOT_FOUND naming what this server has; FAILED_PRECONDITION for
  ///   a registered workflow that needs a plugin this server does not have
  ///   (its configs were validated when it was registered).
  func definition(of workflow: String) async throws(EngineError) -> WorkflowDefinition {
    if let definition = workflows[workflow] { return definition }
    let registered = try await EngineError.answering(about: "") { try await store.registeredWorkflow(named: workflow) }
    guard let registered else {
      let known = workflowNames.joined(separator: ", ")
      throw EngineError(
        .notFound,
        "no workflow named '\(workflow)' (this server's file has: \(known.isEmpty ? "none" : known); none is registered by that name)")
    }
    if let plugin = registry.firstMissingPlugin(of: registered.steps[...]) {
      throw EngineError(
        .failedPrecondition,
        "the registered workflow '\(workflow)' needs plugin '\(plugin)', which this server does not have; start it on a server that has it")
    }
    return registered
  }
}
