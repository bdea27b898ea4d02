extension RedisClient {
  /// Redis' `maxmemory-policy`, e.g. `noeviction` or `allkeys-lru`.
  ///
  /// Read with `CONFIG GET maxmemory-policy`; where `CONFIG` is refused (managed Redis
  /// services often rename or forbid it), from the `maxmemory_policy` field of
  /// `INFO memory`.
  ///
  /// - Throws: `RedisError` when there is no reply (see ``send(_:)``), or with code
  ///   `.server` when Redis refuses both ways; its message quotes both answers.
  public func maxmemoryPolicy() async throws(RedisError) -> String {
    let config = try await send(["CONFIG", "GET", "maxmemory-policy"])
    if let pair = config.array, pair.count == 2, let policy = pair[1].string { return policy }
    let info = try await send(["INFO", "memory"])
    let field = "maxmemory_policy:"
    let line = info.string?.split(whereSeparator: \.isNewline).first { $0.hasPrefix(field) }
    if let line { return String(line.dropFirst(field.count).filter { !$0.isWhitespace }) }
    throw .server("CONFIG GET maxmemory-policy answered \(config); INFO memory answered \(String(describing: info).prefix(200))")
  }
}
