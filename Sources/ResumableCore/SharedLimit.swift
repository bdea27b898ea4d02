import Foundation

/// A limit shared by every server on the store (the definitions file's
/// `limits:`), which steps name in their `limits: [NAME, …]`. Each limiter is
/// one key in the store, changed by one script, so it holds with any number of
/// servers (and on Redis Cluster).
public struct SharedLimit: Hashable, Sendable, Codable {
  public enum Kind: Hashable, Sendable, Codable {
    /// `{rate: N, per_ms: M, burst: B}`: at most N attempts per M ms, B at once
    /// after a quiet spell (GCRA).
    case rate(count: Int, perMs: Int, burst: Int)
    /// `{concurrency: N}`: at most N attempts at once; each holds a slot leased
    /// like a run, so a dead server's slots free themselves.
    case concurrency(Int)
    /// `{tokens_per_minute: N}`: an attempt reserves its estimated tokens, and
    /// settles with the tokens it reports; the budget refills N a minute.
    case tokensPerMinute(Int)
  }

  public var kind: Kind
  /// `key: "{{input.FIELD}}"`: one limiter per value of that part of the
  /// workflow's input (per tenant, per user); nil: one limiter.
  public var key: String?

  public init(kind: Kind, key: String? = nil) {
    self.kind = kind
    self.key = key
  }

  /// Where `key` reads the input: the field names of its `{{input.FIELD}}`
  /// parts, and the text around them; nil when it has another `{{…}}`.
  static func keyParts(_ template: String) -> [KeyPart]? {
    var parts: [KeyPart] = []
    var rest = Substring(template)
    while let open = rest.range(of: "{{") {
      if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
      guard let close = rest[open.upperBound...].range(of: "}}") else { return nil }
      let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
      guard name.hasPrefix("input."), name.count > 6 else { return nil }
      parts.append(.field(String(name.dropFirst(6))))
      rest = rest[close.upperBound...]
    }
    if !rest.isEmpty { parts.append(.text(String(rest))) }
    return parts
  }

  enum KeyPart: Hashable {
    case text(String)
    case field(String)
  }

  /// The limiter a run with `input` uses: the key rendered (a field the input
  /// lacks renders empty: such runs share one limiter), or nil for the one limiter.
  public func limiterKey(input: [UInt8]) -> String? {
    guard let key, let parts = Self.keyParts(key) else { return nil }
    let object = (try? JSONValue(parsing: input))?.objectValue ?? [:]
    return parts.map { part in
      switch part {
      case .text(let text): return text
      case .field(let name):
        switch object[name] {
        case .string(let text)?: return text
        case let value?: return String(decoding: value.serialized(), as: UTF8.self)
        case nil: return ""
        }
      }
    }.joined()
  }
}
