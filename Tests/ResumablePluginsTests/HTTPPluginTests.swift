import Foundation
import ResumableCore
@testable import ResumablePlugins
import ResumableTestSupport
import Testing

/// `http` against a real HTTP server on loopback (TCP and a Unix socket).
@Suite("http plugin")
struct HTTPPluginTests {
  static func context(url: String, attempt: Int = 1, extra: [String: JSONValue] = [:]) -> StepContext {
    var config = extra
    config["url"] = .string(url)
    return StepContext(
      workflowID: "run-h", workflowName: "w", stepName: "call", stepIndex: 1, attempt: attempt, config: .object(config),
      inputs: ["input": Array(#"{"q":1}"#.utf8)], deadline: nil)
  }

  static func withServer(
    _ replies: [StubHTTPServer.Reply], unixSocket: String? = nil, _ body: (StubHTTPServer) async throws -> Void
  ) async throws {
    let server = try await StubHTTPServer.start(replies: replies, unixSocket: unixSocket)
    do {
      try await body(server)
      await server.stop()
    } catch {
      await server.stop()
      throw error
    }
  }

  @Test func postsTheStepDocumentWithTheIdempotencyKeyAndTakesTheBody() async throws {
    try await Self.withServer([.init(body: #"{"answer":42,"resumable_usage":{"cost_usd":0.5}}"#)]) { server in
      let output = try await HTTPPlugin().execute(
        Self.context(url: server.baseURL + "/steps/call", attempt: 2, extra: ["headers": .object(["X-App": .string("demo")])]))
      #expect(try JSONValue(parsing: output.artifact) == .object(["answer": .number(42)]))
      #expect(output.usage.costMicros == 500_000)
      let request = try #require(server.received.first)
      #expect(request.method == .POST && request.uri == "/steps/call")
      #expect(request.headers["Idempotency-Key"] == ["run-h/call/2"])
      #expect(request.headers["Content-Type"] == ["application/json"])
      #expect(request.headers["X-App"] == ["demo"])
      let document = try #require(request.json)
      #expect(document["idempotency_key"] as? String == "run-h/call/2")
      #expect((document["inputs"] as? [String: Any])?["input"] as? [String: Int] == ["q": 1])
    }
  }

  @Test func overAUnixSocket() async throws {
    try await withTemporaryDirectory { directory in
      try await Self.withServer([.init(body: #"{"via":"unix"}"#)], unixSocket: directory.appending("app.sock")) { server in
        let output = try await HTTPPlugin().execute(Self.context(url: server.baseURL + "/hook"))
        #expect(try JSONValue(parsing: output.artifact) == .object(["via": .string("unix")]))
        #expect(server.received.first?.uri == "/hook")
      }
    }
  }

  @Test(arguments: [
    (429, "2", "rateLimited"), (429, "", "retryable"), (500, "", "retryable"), (503, "1", "rateLimited"),
    (502, "", "retryable"), (400, "", "nonRetryable"), (404, "", "nonRetryable"),
  ])
  func statusesMapToErrorClasses(status: Int, retryAfter: String, expected: String) async throws {
    let headers = retryAfter.isEmpty ? [] : [("Retry-After", retryAfter)]
    try await Self.withServer([.init(.init(statusCode: status), headers: headers, body: #"{"error":"nope"}"#)]) { server in
      let error = await #expect(throws: StepFailure.self) { _ = try await HTTPPlugin().execute(Self.context(url: server.baseURL)) }
      let failure = try #require(error)
      #expect(failure.message.contains("\(status)") && failure.message.contains("nope"), "\(failure.message)")
      switch (expected, failure.errorClass) {
      case ("rateLimited", .rateLimited(let after)): #expect(after == .seconds(Int(retryAfter) ?? 0))
      case ("retryable", .retryable), ("nonRetryable", .nonRetryable): break
      default: Issue.record("\(status): expected \(expected), got \(failure.errorClass)")
      }
    }
  }

  @Test func anUnreachableEndpointIsRetryable() async throws {
    // A port nobody listens on: bind one, note it, close it.
    let server = try await StubHTTPServer.start(replies: [.init(body: "{}")])
    let url = server.baseURL
    await server.stop()
    let error = await #expect(throws: StepFailure.self) { _ = try await HTTPPlugin().execute(Self.context(url: url)) }
    #expect(error?.retryable == true)
  }

  @Test func aResponseOverTheLimitIsNotRetried() async throws {
    try await Self.withServer([.init(body: "{\"big\":\"" + String(repeating: "x", count: 5000) + "\"}")]) { server in
      let error = await #expect(throws: StepFailure.self) {
        _ = try await HTTPPlugin().execute(Self.context(url: server.baseURL, extra: ["max_response_bytes": .number(1000)]))
      }
      #expect(error?.retryable == false && error?.message.contains("over 1000 bytes") == true)
    }
  }

  @Test func retryAfterTakesSecondsOrAnHTTPDate() {
    #expect(HTTPEndpoint.retryAfter("7") == .seconds(7))
    let date = Date().addingTimeInterval(30)
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    let parsed = HTTPEndpoint.retryAfter(formatter.string(from: date))
    #expect(parsed.map { $0 > .seconds(25) && $0 <= .seconds(30) } == true, "\(String(describing: parsed))")
    #expect(HTTPEndpoint.retryAfter("soon") == nil)
  }

  @Test func badConfigurationsAreRefused() {
    let cases: [(JSONValue, String)] = [
      (.object([:]), "needs 'url'"),
      (.object(["url": .string("ftp://x/y")]), "http://"),
      (.object(["url": .string("http://x"), "headers": .object(["Bad Name": .string("v")])]), "header name"),
      (.object(["url": .string("http://x"), "method": .string("GET")]), "unknown key 'method'"),
    ]
    for (config, expected) in cases {
      let error = #expect(throws: PluginConfigError.self) { try HTTPPlugin().validate(config: config) }
      #expect(error?.message.contains(expected) == true, "\(config): \(String(describing: error))")
    }
  }
}
