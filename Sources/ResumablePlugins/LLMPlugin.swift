import AsyncHTTPClient
import Foundation
import NIOHTTP1
public import ResumableCore

/// `llm`: one call to an OpenAI-compatible chat-completions endpoint per attempt.
///
/// Configuration:
/// - `base_url` (required): e.g. `https://api.openai.com/v1`; the plugin POSTs to
///   `<base_url>/chat/completions` (`http+unix://` works too, for a local server);
/// - `model` (required);
/// - `api_key_env`: the name of the server's environment variable that holds the API key,
///   sent as `Authorization: Bearer …`. The key itself is never in the definitions, the
///   run's state or the logs;
/// - `prompt` (required) and `system`: templates; `{{name}}` is replaced by the step's
///   declared input `name` (a JSON string as its text, anything else as JSON);
/// - `temperature`, `max_tokens`: passed on;
/// - `price`: `{input_per_million_usd: x, output_per_million_usd: y, cached_input_per_million_usd: c,
///   cache_write_per_million_usd: w}`: the cost recorded from the response's `usage` tokens, each
///   part priced once (`Price`); `c` and `w` default to the input price;
/// - `timeout_ms` (default 60 000), `max_response_bytes` (default 4 MiB).
///
/// Messages sent: the system message, then the run's history as the step's `history`
/// policy lets through, then the prompt as the user message. The artifact is
/// `{"content": …, "model": …, "finish_reason": …}`; the prompt and the reply are appended
/// to the run's history. Usage is read in either of two shapes (`usage(from:)`): OpenAI's,
/// whose `prompt_tokens` include the cached ones, and Anthropic's, whose cache reads and
/// writes come apart from `input_tokens`. 429 (honouring `Retry-After`), 5xx, timeouts and malformed
/// responses are retryable; other 4xx are not.
public struct LLMPlugin: StepPlugin {
  public static let name = "llm"

  /// Sends with AsyncHTTPClient's shared client.
  public init() {}

  struct Settings: PluginSettings {
    var model = ""
    var apiKeyVariable: String?
    var prompt = ""
    var system: String?
    var temperature: Double?
    var maximumTokens: Int?
    var price = Price()
    var transfer = HTTPEndpoint.Transfer(urlKey: "base_url", timeout: .seconds(60), maximumResponseBytes: 4 << 20)

    /// `base_url` without a trailing `/`.
    var baseURL: String { transfer.url.hasSuffix("/") ? String(transfer.url.dropLast()) : transfer.url }

    init(_ config: JSONValue) throws(PluginConfigError) {
      let members = try transfer.readingOwnMembers(of: config, otherwise: "llm's config must be a mapping with base_url, model and prompt")
      for (key, value) in members {
        switch key {
        case "model":
          model = try value.nonEmptyText(key)
        case "api_key_env":
          apiKeyVariable = try value.nonEmptyText(key)
        case "prompt":
          prompt = try value.nonEmptyText(key)
        case "system":
          system = try value.nonEmptyText(key)
        case "temperature":
          guard let number = value.numberValue, number >= 0, number <= 2 else {
            throw PluginConfigError("'temperature' must be a number from 0 to 2")
          }
          temperature = number
        case "max_tokens":
          maximumTokens = try HTTPEndpoint.positive(value, key: key)
        case "price":
          price = try Price(value)
        default:
          throw .unknownKey(
            key,
            allowed: ["api_key_env", "max_tokens", "model", "price", "prompt", "system", "temperature"] + transfer.keys)
        }
      }
      for (key, value) in [("base_url", transfer.url), ("model", model), ("prompt", prompt)] where value.isEmpty {
        throw PluginConfigError("llm needs '\(key)'")
      }
    }
  }

  public func validate(config: JSONValue) throws(PluginConfigError) {
    _ = try Settings(config)
  }

  /// Replaces each `{{name}}` with the step's input `name`.
  /// - Throws: `StepFailure` (non-retryable) for a name the step did not declare.
  static func render(_ template: String, context: StepContext) throws -> String {
    var result = ""
    var rest = Substring(template)
    while let open = rest.range(of: "{{") {
      result += rest[..<open.lowerBound]
      guard let close = rest[open.upperBound...].range(of: "}}") else {
        result += rest[open.lowerBound...]
        return result
      }
      let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
      guard let value = try context.jsonInput(name) else {
        let declared = context.inputs.keys.sorted().joined(separator: ", ")
        throw StepFailure(
          "llm: the template names {{\(name)}}, which is not among the step's inputs (\(declared.isEmpty ? "none" : declared))",
          retryable: false)
      }
      if case .string(let text) = value {
        result += text
      } else {
        result += String(decoding: value.serialized(), as: UTF8.self)
      }
      rest = rest[close.upperBound...]
    }
    return result + rest
  }

  public func execute(_ context: StepContext) async throws -> StepOutput {
    let settings = try Settings.of(context, plugin: Self.name)
    var headers = HTTPHeaders()
    if let variable = settings.apiKeyVariable {
      guard let key = ProcessInfo.processInfo.environment[variable], !key.isEmpty else {
        throw StepFailure("llm: the environment variable \(variable) (api_key_env) is not set on the server", retryable: false)
      }
      headers.add(name: "Authorization", value: "Bearer \(key)")
    }
    headers.add(name: "Idempotency-Key", value: context.idempotencyKey)
    let prompt = HistoryEntry(role: "user", content: try Self.render(settings.prompt, context: context))
    var messages: [HistoryEntry] = []
    if let system = settings.system { messages.append(HistoryEntry(role: "system", content: try Self.render(system, context: context))) }
    messages += context.history
    messages.append(prompt)
    var body: [String: JSONValue] = [
      "model": .string(settings.model),
      "messages": .array(messages.map { .object(["role": .string($0.role), "content": .string($0.content)]) }),
    ]
    if let temperature = settings.temperature { body["temperature"] = .number(temperature) }
    if let maximumTokens = settings.maximumTokens { body["max_tokens"] = .number(Double(maximumTokens)) }

    let response = try await HTTPEndpoint.post(
      url: settings.baseURL + "/chat/completions", headers: headers,
      body: JSONValue.object(body).serialized(), transfer: settings.transfer)
    let source = "llm (\(HTTPEndpoint.redacted(settings.baseURL)), model \(settings.model))"
    guard case .object(let reply) = try? JSONValue(parsing: response),
      let choice = reply["choices"]?.arrayValue?.first?.objectValue,
      let content = choice["message"]?.objectValue?["content"]?.stringValue
    else {
      let preview = String(decoding: response.prefix(200), as: UTF8.self)
      throw StepFailure("\(source) sent a malformed response (no choices[0].message.content): \(preview)", retryable: true)
    }
    var usage = Self.usage(from: reply["usage"]?.objectValue ?? [:])
    usage.costMicros = settings.price.costMicros(usage)
    var artifact: [String: JSONValue] = ["content": .string(content)]
    artifact["model"] = reply["model"] ?? .string(settings.model)
    artifact["finish_reason"] = choice["finish_reason"] ?? .null
    return StepOutput(
      artifact: JSONValue.object(artifact).serialized(),
      usage: usage,
      history: [prompt, HistoryEntry(role: "assistant", content: content)])
  }
}

extension LLMPlugin {
  /// The `price` of the step's config: US dollars per million tokens of each part of the usage,
  /// which are micro-dollars per token.
  struct Price {
    var input = 0.0
    var output = 0.0
    /// Tokens read from the prompt cache; nil: the input price (what they cost before
    /// caching was priced apart, never an under-estimate of a cache read).
    var cachedInput: Double?
    /// Tokens written to the prompt cache; nil: the input price (providers that charge
    /// extra for writes, as Anthropic does, need it set).
    var cacheWrite: Double?

    static let keys = [
      "cache_write_per_million_usd", "cached_input_per_million_usd", "input_per_million_usd", "output_per_million_usd",
    ]

    init() {}

    /// - Throws: `PluginConfigError` for a key not in `keys`, or a price that is negative,
    ///   not finite or absurd (a million dollars per million tokens or more).
    init(_ config: JSONValue) throws(PluginConfigError) {
      guard let object = config.objectValue else {
        throw PluginConfigError("'price' must be a mapping of \(Self.keys.joined(separator: ", "))")
      }
      for (name, item) in object {
        guard let number = item.numberValue, number.isFinite, number >= 0, number < 1e6 else {
          throw PluginConfigError("'price.\(name)' must be a number ≥ 0 (US dollars per million tokens)")
        }
        switch name {
        case "input_per_million_usd": input = number
        case "output_per_million_usd": output = number
        case "cached_input_per_million_usd": cachedInput = number
        case "cache_write_per_million_usd": cacheWrite = number
        default:
          throw PluginConfigError("unknown key 'price.\(name)' (allowed: \(Self.keys.joined(separator: ", ")))")
        }
      }
    }

    /// The cost of `usage`'s tokens in micro-dollars: each of its four counts at its own price, once.
    func costMicros(_ usage: StepUsage) -> Int64 {
      let dollars =
        Double(usage.inputTokens) * input + Double(usage.outputTokens) * output
        + Double(usage.cachedInputTokens) * (cachedInput ?? input)
        + Double(usage.cacheWriteTokens) * (cacheWrite ?? input)
      return Int64(dollars.rounded())
    }
  }

  /// The token counts of a response's `usage` object (cost not set), in either shape:
  /// - OpenAI's (`prompt_tokens` present): `prompt_tokens` counts the whole prompt, of which
  ///   `prompt_tokens_details.cached_tokens` were read from the cache; the rest is uncached input;
  /// - Anthropic's (`input_tokens` present): `input_tokens` are the uncached input,
  ///   `cache_read_input_tokens` and `cache_creation_input_tokens` come on top.
  ///
  /// Output is `completion_tokens` or `output_tokens`. Missing or negative counts are 0; a
  /// cached count larger than the prompt is cut to it.
  static func usage(from usage: [String: JSONValue]) -> StepUsage {
    func count(_ value: JSONValue?) -> UInt64 {
      guard let number = value?.numberValue, number.isFinite, number > 0 else { return 0 }
      return UInt64(min(number, 1e15))
    }
    let output = count(usage["completion_tokens"] ?? usage["output_tokens"])
    if let prompt = usage["prompt_tokens"] {
      let total = count(prompt)
      let cached = min(total, count(usage["prompt_tokens_details"]?.objectValue?["cached_tokens"]))
      return StepUsage(inputTokens: total - cached, outputTokens: output, cachedInputTokens: cached)
    }
    return StepUsage(
      inputTokens: count(usage["input_tokens"]), outputTokens: output,
      cachedInputTokens: count(usage["cache_read_input_tokens"]),
      cacheWriteTokens: count(usage["cache_creation_input_tokens"]))
  }
}
