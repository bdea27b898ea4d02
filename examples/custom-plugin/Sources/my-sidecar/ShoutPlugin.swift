import ResumableCore

/// `shout`: upper-cases a text input. A step of your own is a `StepPlugin`:
/// `validate` checks its configuration when the definitions load, `execute`
/// runs one attempt and returns the artifact (JSON) and what it cost.
struct ShoutPlugin: StepPlugin {
  /// Which declared input to read (default `input`) and how many `!` to add.
  struct Settings: PluginSettings {
    var from = "input"
    var exclamations = 1

    init(_ config: JSONValue) throws(PluginConfigError) {
      for (key, value) in config.objectValue ?? [:] {
        switch key {
        case "from":
          guard let name = value.stringValue else { throw PluginConfigError("'from' must be an input name") }
          from = name
        case "exclamations":
          guard let count = value.numberValue, count >= 0, count <= 10 else {
            throw PluginConfigError("'exclamations' must be a number from 0 to 10")
          }
          exclamations = Int(count)
        default:
          throw PluginConfigError("unknown key '\(key)' (allowed: exclamations, from)")
        }
      }
    }
  }

  func validate(config: JSONValue) throws(PluginConfigError) {
    _ = try Settings(config)
  }

  func execute(_ context: StepContext) async throws -> StepOutput {
    let settings = try Settings.of(context, plugin: "shout")
    // Only declared inputs arrive (context pruning); say clearly when one is missing.
    guard let value = try context.jsonInput(settings.from) else {
      throw StepFailure("shout: the step must declare the input '\(settings.from)'", retryable: false)
    }
    let text: String
    switch value {
    case .string(let string): text = string
    case .object(let members): text = members["text"]?.stringValue ?? String(decoding: value.serialized(), as: UTF8.self)
    default: text = String(decoding: value.serialized(), as: UTF8.self)
    }
    let shouted = text.uppercased() + String(repeating: "!", count: settings.exclamations)
    return StepOutput(
      artifact: JSONValue.object(["text": .string(shouted)]).serialized(),
      usage: StepUsage(inputTokens: UInt64(text.count), outputTokens: UInt64(shouted.count)))
  }
}
