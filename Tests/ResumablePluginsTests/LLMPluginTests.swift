import Foundation
import ResumableCore
import ResumablePlugins
import ResumableTestSupport
import Testing

/// `llm` against a small OpenAI-compatible server on loopback.
@Suite("llm plugin")
struct LLMPluginTests {
  static let completion = #"""
    {"id":"c1","object":"chat.completion","model":"tiny-1","choices":[{"index":0,"message":{"role":"assistant","content":"Agents resume."},"finish_reason":"stop"}],"usage":{"prompt_tokens":1200,"completion_tokens":300,"total_tokens":1500}}
    """#

  static func context(baseURL: String, history: [HistoryEntry] = [], extra: [String: JSONValue] = [:]) -> StepContext {
    var config: [String: JSONValue] = [
      "base_url": .string(baseURL + "/v1"), "model": .string("tiny-1"),
      "system": .string("You summarize."), "prompt": .string("Summarize {{extract}} about {{input}}."),
      "price": .object(["input_per_million_usd": .number(2.5), "output_per_million_usd": .number(10)]),
    ]
    for (key, value) in extra { config[key] = value }
    return StepContext(
      workflowID: "run-l", workflowName: "w", stepName: "draft", stepIndex: 3, attempt: 1, config: .object(config),
      inputs: ["extract": Array(#"{"facts":["a","b"]}"#.utf8), "input": Array(#""checkpoints""#.utf8)], deadline: nil,
      history: history)
  }

  @Test func sendsTemplatedMessagesWithHistoryAndRecordsUsageCostAndTheExchange() async throws {
    let server = try await StubHTTPServer.start(replies: [.init(body: Self.completion)])
    defer { Task { await server.stop() } }
    let earlier = [HistoryEntry(role: "user", content: "Find sources."), HistoryEntry(role: "assistant", content: "Found 3.")]
    let output = try await LLMPlugin().execute(Self.context(baseURL: server.baseURL, history: earlier))
    let request = try #require(server.received.first)
    #expect(request.uri == "/v1/chat/completions")
    let body = try #require(request.json)
    #expect(body["model"] as? String == "tiny-1")
    let messages = try #require(body["messages"] as? [[String: String]])
    #expect(messages == [
      ["role": "system", "content": "You summarize."],
      ["role": "user", "content": "Find sources."],
      ["role": "assistant", "content": "Found 3."],
      ["role": "user", "content": #"Summarize {"facts":["a","b"]} about checkpoints."#],
    ])
    #expect(try JSONValue(parsing: output.artifact).objectValue?["content"] == .string("Agents resume."))
    #expect(output.usage.inputTokens == 1200 && output.usage.outputTokens == 300)
    // 1200 × $2.50/M + 300 × $10/M = $0.006.
    #expect(output.usage.costMicros == 6000)
    #expect(output.history.map(\.role) == ["user", "assistant"])
    #expect(output.history.last?.content == "Agents resume.")
  }

  /// The two usage shapes of one exchange with a prompt cache: 10 000 prompt tokens, 8 000 of
  /// them read from the cache, 500 written to it, 300 out. OpenAI counts the cached tokens in
  /// `prompt_tokens` (and reports no writes); Anthropic reports each part apart.
  static func completion(usage: String) -> String {
    #"{"model":"tiny-1","choices":[{"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":"#
      + usage + "}"
  }
  static let openAIUsage =
    #"{"prompt_tokens":10000,"completion_tokens":300,"total_tokens":10300,"prompt_tokens_details":{"cached_tokens":8000}}"#
  static let anthropicUsage =
    #"{"input_tokens":1500,"cache_read_input_tokens":8000,"cache_creation_input_tokens":500,"output_tokens":300}"#
  static let cachePrices: [String: JSONValue] = [
    "input_per_million_usd": .number(3), "output_per_million_usd": .number(15),
    "cached_input_per_million_usd": .number(0.3), "cache_write_per_million_usd": .number(3.75),
  ]

  @Test(arguments: [
    // 2 000 uncached × $3/M + 8 000 cached × $0.30/M + 300 out × $15/M = $0.0129.
    (openAIUsage, StepUsage(inputTokens: 2_000, outputTokens: 300, cachedInputTokens: 8_000, costMicros: 12_900)),
    // 1 500 × $3/M + 8 000 × $0.30/M + 500 written × $3.75/M + 300 × $15/M = $0.013275.
    (
      anthropicUsage,
      StepUsage(inputTokens: 1_500, outputTokens: 300, cachedInputTokens: 8_000, cacheWriteTokens: 500, costMicros: 13_275)
    ),
  ])
  func eachPartOfThePromptIsCountedAndPricedOnce(usage: String, expected: StepUsage) async throws {
    let server = try await StubHTTPServer.start(replies: [.init(body: Self.completion(usage: usage))])
    defer { Task { await server.stop() } }
    let output = try await LLMPlugin().execute(
      Self.context(baseURL: server.baseURL, extra: ["price": .object(Self.cachePrices)]))
    #expect(output.usage == expected)
  }

  @Test(arguments: [(openAIUsage, 10_000), (anthropicUsage, 10_000)])
  func withoutCachePricesEveryPromptTokenCostsTheInputPrice(usage: String, promptTokens: Int) async throws {
    let server = try await StubHTTPServer.start(replies: [.init(body: Self.completion(usage: usage))])
    defer { Task { await server.stop() } }
    let output = try await LLMPlugin().execute(Self.context(baseURL: server.baseURL))
    let counted = output.usage.inputTokens + output.usage.cachedInputTokens + output.usage.cacheWriteTokens
    #expect(counted == UInt64(promptTokens))
    // 10 000 × $2.50/M + 300 × $10/M = $0.028, as before cache prices existed.
    #expect(output.usage.costMicros == 28_000)
  }

  @Test func aCachedCountAboveThePromptIsCutToIt() async throws {
    let usage = #"{"prompt_tokens":100,"completion_tokens":-3,"prompt_tokens_details":{"cached_tokens":500}}"#
    let server = try await StubHTTPServer.start(replies: [.init(body: Self.completion(usage: usage))])
    defer { Task { await server.stop() } }
    let output = try await LLMPlugin().execute(Self.context(baseURL: server.baseURL))
    #expect(output.usage == StepUsage(inputTokens: 0, outputTokens: 0, cachedInputTokens: 100, costMicros: 250))
  }

  @Test(arguments: [
    ("cached_input_per_million_usd: -0.3", "'price.cached_input_per_million_usd' must be a number ≥ 0"),
    ("cache_write_per_million_usd: .inf", "'price.cache_write_per_million_usd' must be a number ≥ 0"),
    ("cache_write_per_million_usd: .nan", "'price.cache_write_per_million_usd' must be a number ≥ 0"),
    ("cache_read_per_million_usd: 1", "unknown key 'price.cache_read_per_million_usd'"),
  ])
  func aBadCachePriceIsRefusedAtLoadNamingTheFileWorkflowAndStep(price: String, expected: String) {
    let text = """
      workflows:
        - name: w
          steps:
            - name: ask
              plugin: llm
              config: {base_url: "http://x/v1", model: m, prompt: p, price: {input_per_million_usd: 3, \(price)}}
      """
    do {
      _ = try DefinitionsFile.parse(text, file: "defs.yaml", registry: .standard())
      Issue.record("accepted: \(price)")
    } catch {
      #expect(error.description.hasPrefix("defs.yaml: workflow 'w', step 'ask': plugin 'llm': \(expected)"), "got: \(error.description)")
    }
  }

  @Test func theAPIKeyComesFromTheNamedVariableAndAMissingOneSaysWhich() async throws {
    let server = try await StubHTTPServer.start(replies: [.init(body: Self.completion)])
    defer { Task { await server.stop() } }
    // HOME is set in any test environment: it stands in for a key variable.
    let home = try #require(ProcessInfo.processInfo.environment["HOME"])
    _ = try await LLMPlugin().execute(Self.context(baseURL: server.baseURL, extra: ["api_key_env": .string("HOME")]))
    #expect(server.received.first?.headers["Authorization"] == ["Bearer \(home)"])
    let error = await #expect(throws: StepFailure.self) {
      _ = try await LLMPlugin().execute(
        Self.context(baseURL: server.baseURL, extra: ["api_key_env": .string("RESUMABLE_TEST_NO_SUCH_KEY")]))
    }
    #expect(error?.retryable == false && error?.message.contains("RESUMABLE_TEST_NO_SUCH_KEY") == true)
  }

  @Test func rateLimitServerErrorAndMalformedBodyAreRetryable() async throws {
    let server = try await StubHTTPServer.start(replies: [
      .init(.tooManyRequests, headers: [("Retry-After", "3")], body: #"{"error":{"message":"slow down"}}"#),
      .init(.internalServerError, body: #"{"error":{"message":"overloaded"}}"#),
      .init(body: #"{"choices":[]}"#),
      .init(body: "<html>gateway</html>"),
      .init(body: Self.completion),
    ])
    defer { Task { await server.stop() } }
    let plugin = LLMPlugin()
    let context = Self.context(baseURL: server.baseURL)
    var classes: [StepErrorClass] = []
    for _ in 0..<4 {
      do {
        _ = try await plugin.execute(context)
        Issue.record("an error reply was taken as a success")
      } catch let failure as StepFailure {
        classes.append(failure.errorClass)
      }
    }
    #expect(classes == [.rateLimited(retryAfter: .seconds(3)), .retryable, .retryable, .retryable])
    let output = try await plugin.execute(context)
    #expect(output.usage.outputTokens == 300)
  }

  @Test func aTemplateNamingAnUndeclaredInputFailsWithoutRetry() async throws {
    let server = try await StubHTTPServer.start(replies: [.init(body: Self.completion)])
    defer { Task { await server.stop() } }
    let error = await #expect(throws: StepFailure.self) {
      _ = try await LLMPlugin().execute(Self.context(baseURL: server.baseURL, extra: ["prompt": .string("Use {{outline}}")]))
    }
    #expect(error?.retryable == false)
    #expect(error?.message.contains("{{outline}}") == true && error?.message.contains("extract, input") == true)
    #expect(server.received.isEmpty, "nothing was sent")
  }

  @Test func badConfigurationsAreRefused() {
    let base: [String: JSONValue] = ["base_url": .string("http://x/v1"), "model": .string("m"), "prompt": .string("p")]
    let cases: [([String: JSONValue], String)] = [
      (base.filter { $0.key != "model" }, "needs 'model'"),
      (base.merging(["api_key": .string("sk-123")]) { $1 }, "unknown key 'api_key'"),
      (base.merging(["temperature": .number(7)]) { $1 }, "temperature"),
      (base.merging(["price": .object(["per_token": .number(1)])]) { $1 }, "price.per_token"),
    ]
    for (config, expected) in cases {
      let error = #expect(throws: PluginConfigError.self) { try LLMPlugin().validate(config: .object(config)) }
      #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
    }
  }
}
