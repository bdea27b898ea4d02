extension RedisClient {
  /// Runs `script` with `EVALSHA`, loading it first if Redis does not know it.
  ///
  /// On a `NOSCRIPT` reply (first use, or after `SCRIPT FLUSH` or a Redis restart) the
  /// script is sent with `SCRIPT LOAD` and run again, both in one round trip, once.
  ///
  /// - Parameters:
  ///   - script: The script and its SHA-1.
  ///   - keys: `KEYS[1...]` in Lua; all keys a script touches must be listed (cluster rule).
  ///   - arguments: `ARGV[1...]` in Lua.
  /// - Returns: The script's reply.
  /// - Throws: `RedisError` with code `.server` for an error reply (e.g. a Lua
  ///   `redis.error_reply`), besides the connection errors of ``send(_:)``.
  public func evalScript(
    _ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument]
  ) async throws(RedisError) -> RESPValue {
    let evalsha: [RedisArgument] =
      ["EVALSHA", RedisArgument(script.sha1), RedisArgument(keys.count)] + keys + arguments
    let reply = try await send(evalsha)
    guard case .error(let message) = reply else { return reply }
    guard message.hasPrefix("NOSCRIPT") else { throw .server(message) }
    let replies = try await pipeline([["SCRIPT", "LOAD", RedisArgument(script.source)], evalsha])
    if case .error(let loadError) = replies[0] { throw .server(loadError) }
    if replies[0].string != script.sha1 {
      throw .protocolError("Redis named the script \(replies[0]) but its SHA-1 is \(script.sha1)")
    }
    if case .error(let retryError) = replies[1] { throw .server(retryError) }
    return replies[1]
  }
}
