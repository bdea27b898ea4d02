import ResumableCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

extension TestRedis {
  /// Stops the server with `SIGSTOP`, as a hung Redis: connections stay open, the kernel
  /// still accepts new ones and buffers what clients send, but nothing is answered.
  ///
  /// - Important: Call ``thaw()`` before the server is stopped; a frozen server only
  ///   dies of the `SIGKILL` that ``shutdown()`` sends after its grace period.
  public func freeze() throws {
    try signal(SIGSTOP)
  }

  /// Lets a frozen server go on (`SIGCONT`): it reads and answers what waited.
  public func thaw() throws {
    try signal(SIGCONT)
  }

  private func signal(_ signal: Int32) throws {
    guard let pid = server.pid else { throw TestSupportError("redis-server is not running") }
    guard kill(pid, signal) == 0 else {
      throw TestSupportError("kill(\(pid), \(signal)) failed: \(String(cString: strerror(errno)))")
    }
  }
}

extension TestRedis {
  /// Runs `body` while the server is frozen (``freeze()``), and thaws it afterwards, also
  /// when `body` throws.
  public func whileFrozen<T>(
    isolation: isolated (any Actor)? = #isolation,
    _ body: () async throws -> T
  ) async throws -> T {
    try freeze()
    return try await withCleanup {
      try await body()
    } cleanup: {
      try? thaw()
    }
  }
}
