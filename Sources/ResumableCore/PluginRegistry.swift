/// The plugins a server can run, by name.
///
/// Built before the server starts and frozen afterwards: it is a value, and
/// the server keeps its own copy. Registering a name twice is an error at
/// registration, not a surprise at run time.
public struct PluginRegistry: Sendable {
  private var plugins: [String: any StepPlugin] = [:]

  /// An empty registry.
  public init() {}

  /// A registry with the built-in plugins (`echo`, `simulate`, `worker`).
  public static func builtIn() -> PluginRegistry {
    var registry = PluginRegistry()
    // The built-in names are distinct, so these cannot fail.
    try! registry.register(EchoPlugin(), as: EchoPlugin.name)
    try! registry.register(SimulatePlugin(), as: SimulatePlugin.name)
    try! registry.register(WorkerPlugin(), as: WorkerPlugin.name)
    return registry
  }

  /// Adds a plugin under `name`.
  /// - Throws: `PluginRegistrationError` when the name is taken or malformed.
  public mutating func register(_ plugin: some StepPlugin, as name: String) throws(PluginRegistrationError) {
    guard !name.isEmpty, name.utf8.count <= 64 else {
      throw PluginRegistrationError(message: "plugin name '\(name)' must be 1 to 64 bytes")
    }
    guard plugins[name] == nil else {
      throw PluginRegistrationError(message: "a plugin named '\(name)' is registered already")
    }
    plugins[name] = plugin
  }

  /// Puts `plugin` in the place of the one registered as `name` (the engine
  /// binds its own worker pool in this way).
  mutating func replace(_ name: String, with plugin: some StepPlugin) {
    plugins[name] = plugin
  }

  /// The plugin registered as `name`, if any.
  public func plugin(named name: String) -> (any StepPlugin)? { plugins[name] }

  /// The first plugin `steps` name that is not registered here, if any.
  public func firstMissingPlugin(of steps: ArraySlice<StepDefinition>) -> String? {
    steps.first { plugins[$0.plugin] == nil }?.plugin
  }

  /// Every registered name.
  public var names: Set<String> { Set(plugins.keys) }
}

/// A plugin that cannot be registered.
public struct PluginRegistrationError: Error, Hashable, Sendable, CustomStringConvertible {
  public var message: String
  public var description: String { message }
}
