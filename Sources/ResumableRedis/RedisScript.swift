/// A Lua script for `EVALSHA`, with its SHA-1 computed once.
///
/// Create scripts once (e.g. as `static let`) and run them with
/// ``RedisClient/evalScript(_:keys:arguments:)``, which loads them on first use.
public struct RedisScript: Sendable, Hashable {
  /// The Lua source.
  public let source: String
  /// The SHA-1 of `source` as 40 lowercase hex digits: the id Redis knows the script by.
  public let sha1: String

  /// Wraps `source` and computes its id.
  public init(_ source: String) {
    self.source = source
    self.sha1 = SHA1.hexDigest(source.utf8)
  }
}
