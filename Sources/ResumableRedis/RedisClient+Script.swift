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
    try await evalScript(script, keys: keys, arguments: arguments, after: []).script
  }

  /// Sends `commands`, then runs `script`, then sends `trailing`, in one write (one round
  /// trip), with the `NOSCRIPT` handling of ``evalScript(_:keys:arguments:)``.
  ///
  /// Redis runs them in that order, but not as a transaction: use it where the
  /// commands must happen before the script and need not depend on its outcome
  /// (e.g. maintaining an index that lives in another cluster slot). `trailing` is for
  /// what must follow the script on its connection, such as `WAIT`.
  ///
  /// - Returns: The commands' replies (error replies as values, not thrown), the
  ///   script's reply and the trailing commands' replies. After a `NOSCRIPT`, only the
  ///   script and `trailing` are sent again.
  public func evalScript(
    _ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument],
    after commands: [[RedisArgument]], then trailing: [[RedisArgument]] = []
  ) async throws(RedisError) -> (commands: [RESPValue], script: RESPValue, trailing: [RESPValue]) {
    let evalsha: [RedisArgument] =
      ["EVALSHA", RedisArgument(script.sha1), RedisArgument(keys.count)] + keys + arguments
    let replies = try await pipeline(commands + [evalsha] + trailing)
    let commandReplies = Array(replies.prefix(commands.count))
    let reply = replies[commands.count]
    guard case .error(let message) = reply else { return (commandReplies, reply, Array(replies.suffix(trailing.count))) }
    guard message.hasPrefix("NOSCRIPT") else { throw .server(message) }
    let retried = try await pipeline([["SCRIPT", "LOAD", RedisArgument(script.source)], evalsha] + trailing)
    if case .error(let loadError) = retried[0] { throw .server(loadError) }
    if retried[0].string != script.sha1 {
      throw .protocolError("Redis named the script \(retried[0]) but its SHA-1 is \(script.sha1)")
    }
    if case .error(let retryError) = retried[1] { throw .server(retryError) }
    return (commandReplies, retried[1], Array(retried.suffix(trailing.count)))
  }
}
