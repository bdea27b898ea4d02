public import ResumableCore

extension LLMPlugin {
  /// About four characters a token: what a prompt of `characters` is expected to count.
  static func estimatedTokens(characters: Int) -> UInt64 { UInt64((characters + 3) / 4) }

  /// The attempt's expected cost before it is sent: the messages it would send
  /// (system, history, the rendered prompt) at about four characters a token
  /// times the input price, plus `max_tokens` times the output price (0 output
  /// tokens without `max_tokens`: set it for a useful estimate). The whole prompt
  /// counts as uncached input: whether the provider's cache will serve part of it
  /// is not known before, and the input price is the safe side.
  public func estimate(_ context: StepContext) -> AttemptEstimate? {
    guard let settings = try? Settings(context.config), let prompt = try? Self.render(settings.prompt, context: context) else {
      return nil
    }
    let characters = prompt.count + (settings.system?.count ?? 0) + context.history.reduce(0) { $0 + $1.content.count }
    let input = Self.estimatedTokens(characters: characters)
    let output = UInt64(settings.maximumTokens ?? 0)
    let usage = StepUsage(inputTokens: input, outputTokens: output)
    return AttemptEstimate(costMicros: settings.price.costMicros(usage), tokens: input + output)
  }
}
