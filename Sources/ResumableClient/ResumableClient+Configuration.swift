extension ResumableClient {
  /// How a ``ResumableClient`` connects and calls.
  public struct Configuration: Sendable {
    /// How long ``ResumableClient/connect(socketPath:configuration:)`` waits for the connection.
    public var connectTimeout: Duration
    /// The timeout of a call made without one; `nil` means no deadline.
    public var defaultCallTimeout: Duration?
    /// The largest response frame accepted, in bytes; a larger one fails every pending call
    /// with `.internal` and closes the connection.
    public var maximumFrameBytes: Int
    /// A user id besides this user's and root's that the server may run as; `nil` trusts
    /// no other. The CLI's `--trust-server-uid`.
    public var trustedServerUID: UInt32?

    /// Creates a configuration.
    /// - Parameters:
    ///   - connectTimeout: How long connecting may take. Default: 10 seconds.
    ///   - defaultCallTimeout: The timeout of calls made without one. Default: none.
    ///   - maximumFrameBytes: The largest response frame accepted. Default: 4 MiB, the
    ///     server's default limit.
    ///   - trustedServerUID: Another user id the server may run as. Default: none (only
    ///     this user and root).
    public init(
      connectTimeout: Duration = .seconds(10),
      defaultCallTimeout: Duration? = nil,
      maximumFrameBytes: Int = 4_194_304,
      trustedServerUID: UInt32? = nil
    ) {
      self.connectTimeout = connectTimeout
      self.defaultCallTimeout = defaultCallTimeout
      self.maximumFrameBytes = maximumFrameBytes
      self.trustedServerUID = trustedServerUID
    }
  }
}
