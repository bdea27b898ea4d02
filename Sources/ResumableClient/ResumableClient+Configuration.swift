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

    /// Creates a configuration.
    /// - Parameters:
    ///   - connectTimeout: How long connecting may take. Default: 10 seconds.
    ///   - defaultCallTimeout: The timeout of calls made without one. Default: none.
    ///   - maximumFrameBytes: The largest response frame accepted. Default: 4 MiB, the
    ///     server's default limit.
    public init(
      connectTimeout: Duration = .seconds(10),
      defaultCallTimeout: Duration? = nil,
      maximumFrameBytes: Int = 4_194_304
    ) {
      self.connectTimeout = connectTimeout
      self.defaultCallTimeout = defaultCallTimeout
      self.maximumFrameBytes = maximumFrameBytes
    }
  }
}
