import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
public import ResumableCore

/// `http`: POSTs the step's JSON document (`StepRequest`, as `exec` gives on stdin) to an
/// endpoint of the app next to the sidecar; the response body is the artifact.
///
/// Configuration:
/// - `url` (required): `http://host:port/path`, `https://…`, or a Unix socket as
///   `http+unix://<socket path, percent-encoded>/path` (e.g.
///   `http+unix://%2Frun%2Fapp.sock/steps/summarize`);
/// - `headers`: extra request headers `{Name: value}`; `header_env`: headers whose value is
///   read from the server's environment `{Name: VARIABLE}` (for tokens: they are never
///   stored in state or logs);
/// - `params`: any JSON, sent as `config`;
/// - `timeout_ms`: the request's limit (default 30 000; the step's own timeout still applies);
/// - `max_response_bytes` (default 1 MiB).
///
/// 2xx: success (the body as JSON, with an optional `resumable_usage` member). 429 and 5xx
/// (and 408): retryable, honouring `Retry-After` (seconds or an HTTP date). Any other
/// status: non-retryable. Connection failures and timeouts: retryable. The request carries
/// `Idempotency-Key: workflow_id/step/attempt`.
public struct HTTPPlugin: StepPlugin {
  public static let name = "http"

  /// Sends with AsyncHTTPClient's shared client.
  public init() {}

  struct Settings: PluginSettings {
    var headers: [(String, String)] = []
    var headerEnvironment: [(String, String)] = []
    var params = JSONValue.null
    var transfer = HTTPEndpoint.Transfer(urlKey: "url", timeout: .seconds(30), maximumResponseBytes: 1 << 20)

    /// The endpoint's URL.
    var url: String { transfer.url }

    init(_ config: JSONValue) throws(PluginConfigError) {
      let members = try transfer.readingOwnMembers(of: config, otherwise: "http's config must be a mapping with at least 'url'")
      for (key, value) in members {
        switch key {
        case "headers":
          headers = try HTTPEndpoint.headerPairs(value, key: key)
        case "header_env":
          headerEnvironment = try HTTPEndpoint.headerPairs(value, key: key)
        case "params":
          params = value
        default:
          throw .unknownKey(key, allowed: ["header_env", "headers", "params"] + transfer.keys)
        }
      }
      guard !url.isEmpty else { throw PluginConfigError("http needs 'url'") }
    }
  }

  public func validate(config: JSONValue) throws(PluginConfigError) {
    _ = try Settings(config)
  }

  public func execute(_ context: StepContext) async throws -> StepOutput {
    let settings = try Settings.of(context, plugin: Self.name)
    var headers = HTTPHeaders(settings.headers)
    for (name, variable) in settings.headerEnvironment {
      guard let value = ProcessInfo.processInfo.environment[variable] else {
        throw StepFailure("http: the environment variable \(variable) (for header \(name)) is not set on the server", retryable: false)
      }
      headers.add(name: name, value: value)
    }
    headers.add(name: "Idempotency-Key", value: context.idempotencyKey)
    let response = try await HTTPEndpoint.post(
      url: settings.url, headers: headers,
      body: StepRequest.document(for: context, params: settings.params),
      transfer: settings.transfer)
    return try StepRequest.output(from: response, source: "POST \(HTTPEndpoint.redacted(settings.url))")
  }
}

/// What the `http` and `llm` plugins share: sending a JSON POST and mapping the outcome to
/// a step's error classes.
enum HTTPEndpoint {
  static func isSupported(_ url: String) -> Bool {
    guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased() else { return false }
    return ["http", "https", "http+unix", "https+unix"].contains(scheme) && parsed.host?.isEmpty == false
  }

  /// The URL without credentials or query, for messages.
  static func redacted(_ url: String) -> String {
    guard var components = URLComponents(string: url) else { return "<url>" }
    components.user = nil
    components.password = nil
    components.query = nil
    return components.string ?? "<url>"
  }

  static func headerPairs(_ value: JSONValue, key: String) throws(PluginConfigError) -> [(String, String)] {
    guard let object = value.objectValue else { throw PluginConfigError("'\(key)' must be a mapping of Name: value") }
    var pairs: [(String, String)] = []
    for (name, item) in object.sorted(by: { $0.key < $1.key }) {
      guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }), let text = item.stringValue,
        !text.contains("\r"), !text.contains("\n")
      else {
        throw PluginConfigError("'\(key)': '\(name)' must be a header name with a one-line string value")
      }
      pairs.append((name, text))
    }
    return pairs
  }

  /// A request's URL and limits, as both plugins read them: the URL under `urlKey`
  /// (`url`, `base_url`), `timeout_ms` and `max_response_bytes`.
  struct Transfer {
    /// The configuration key of the URL.
    let urlKey: String
    /// The URL configured; empty until read.
    var url = ""
    var timeout: Duration
    var maximumResponseBytes: Int

    init(urlKey: String, timeout: Duration, maximumResponseBytes: Int) {
      self.urlKey = urlKey
      self.timeout = timeout
      self.maximumResponseBytes = maximumResponseBytes
    }

    /// The configuration keys it reads.
    var keys: [String] { [urlKey, "max_response_bytes", "timeout_ms"] }

    /// Reads the members of the mapping `config` that are its `keys`, and
    /// returns the others, in key order, for the plugin to read.
    mutating func readingOwnMembers(
      of config: JSONValue, otherwise notMapping: String
    ) throws(PluginConfigError) -> [(key: String, value: JSONValue)] {
      var others: [(key: String, value: JSONValue)] = []
      for (key, value) in try config.configMembers(otherwise: notMapping) {
        switch key {
        case urlKey:
          guard let text = value.stringValue, HTTPEndpoint.isSupported(text) else {
            throw PluginConfigError(
              "'\(key)' must be an http://, https:// or http+unix:// URL (the socket path percent-encoded)")
          }
          url = text
        case "timeout_ms": timeout = .milliseconds(try HTTPEndpoint.positive(value, key: key))
        case "max_response_bytes": maximumResponseBytes = try HTTPEndpoint.positive(value, key: key)
        default: others.append((key, value))
        }
      }
      return others
    }
  }

  static func positive(_ value: JSONValue, key: String) throws(PluginConfigError) -> Int {
    guard let number = value.numberValue, number >= 1, number.rounded() == number, number <= 1_073_741_824 else {
      throw PluginConfigError("'\(key)' must be a whole number from 1 to 1073741824")
    }
    return Int(number)
  }

  /// POSTs `body` as JSON and returns the 2xx response's body.
  /// - Throws: `StepFailure`: rate-limited (429, or 503 with `Retry-After`), retryable (5xx,
  ///   408, connection failures, timeouts) or non-retryable (other statuses, a body too large).
  static func post(
    url: String, headers: HTTPHeaders, body: [UInt8], transfer: Transfer
  ) async throws -> [UInt8] {
    let target = redacted(url)
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.headers = headers
    request.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
    request.body = .bytes(ByteBuffer(bytes: body))
    let response: HTTPClientResponse
    do {
      response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(transfer.timeout.wholeMilliseconds))
    } catch is CancellationError {
      throw CancellationError()
    } catch {
      throw StepFailure("POST \(target) failed: \(error)", retryable: true)
    }
    let data: ByteBuffer
    do {
      data = try await response.body.collect(upTo: transfer.maximumResponseBytes)
    } catch is NIOTooManyBytesError {
      throw StepFailure("POST \(target): the response is over \(transfer.maximumResponseBytes) bytes", retryable: false)
    } catch is CancellationError {
      throw CancellationError()
    } catch {
      throw StepFailure("POST \(target): reading the response failed: \(error)", retryable: true)
    }
    let bytes = Array(data.readableBytesView)
    let status = response.status.code
    if (200..<300).contains(status) { return bytes }
    let preview = String(decoding: bytes.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    let message = "POST \(target) answered \(status) \(response.status.reasonPhrase)" + (preview.isEmpty ? "" : ": \(preview)")
    let retryAfter = response.headers.first(name: "Retry-After").flatMap(Self.retryAfter)
    if status == 429 || (status == 503 && retryAfter != nil) {
      if let retryAfter { throw StepFailure.rateLimited(message, retryAfter: retryAfter) }
      throw StepFailure(message, retryable: true)
    }
    if status == 408 || (500...599).contains(status) { throw StepFailure(message, retryable: true) }
    throw StepFailure(message, retryable: false)
  }

  /// A `Retry-After` value: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
  static func retryAfter(_ value: String) -> Duration? {
    let text = value.trimmingCharacters(in: .whitespaces)
    if let seconds = Double(text), seconds >= 0, seconds < 86_400 * 7 {
      return .milliseconds(Int64(seconds * 1000))
    }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
    guard let date = formatter.date(from: text) else { return nil }
    let seconds = max(0, date.timeIntervalSinceNow)
    return .milliseconds(Int64(seconds * 1000))
  }
}
