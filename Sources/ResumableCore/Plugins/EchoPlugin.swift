/// `echo`: its artifact is a JSON object of its declared inputs, by name.
///
/// Useful to see context pruning at work: the artifact shows exactly what the
/// step was given.
public struct EchoPlugin: StepPlugin {
  /// The registered name.
  public static let name = "echo"

  public init() {}

  public func validate(config: JSONValue) throws(PluginConfigError) {
    if let key = config.objectValue?.keys.sorted().first {
      throw PluginConfigError("echo takes no configuration (found '\(key)')")
    }
  }

  public func execute(_ context: StepContext) async throws -> StepOutput {
    var members: [String: JSONValue] = [:]
    for name in context.inputs.keys {
      members[name] = try context.jsonInput(name)
    }
    return StepOutput(artifact: JSONValue.object(members).serialized())
  }
}
