public import ResumableCore

extension PluginRegistry {
  /// The plugins `resumable serve` offers: the built-in ones (`echo`, `simulate`) and
  /// those that reach real work (`exec`, `http`, `llm`).
  public static func standard() -> PluginRegistry {
    var registry = PluginRegistry.builtIn()
    // The names are distinct, so this cannot fail.
    try! registry.register(ExecPlugin(), as: ExecPlugin.name)
    try! registry.register(HTTPPlugin(), as: HTTPPlugin.name)
    try! registry.register(LLMPlugin(), as: LLMPlugin.name)
    return registry
  }
}
