import NIOCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

extension ResumableClientError {
  /// Maps a failure to connect to `socketPath` to an error that says what to do about it.
  init(connecting error: any Error, socketPath: String, timeout: Duration) {
    let startHint = Setting("socket", value: socketPath)
    switch error {
    case let error as IOError where error.errnoCode == ENOENT:
      self.init(
        code: .unavailable,
        message: "no Resumable server at \(socketPath): the socket does not exist",
        cause: error, setting: startHint)
    case let error as IOError where error.errnoCode == ECONNREFUSED:
      self.init(
        code: .unavailable,
        message: "no Resumable server is listening at \(socketPath) (connection refused; the "
          + "socket file may be left over from a stopped server)",
        cause: error, setting: startHint)
    case let error as IOError where error.errnoCode == EACCES || error.errnoCode == EPERM:
      self.init(
        code: .permissionDenied,
        message: "not allowed to connect to the Resumable server at \(socketPath): permission "
          + "denied (the socket's mode or group does not include this user)",
        cause: error)
    case SocketAddressError.unixDomainSocketPathTooLong:
      self.init(
        code: .invalidArgument,
        message: "the socket path \(socketPath) is too long for a Unix domain socket "
          + "(\(socketPath.utf8.count) bytes; at most 107 are allowed)",
        cause: error)
    case ChannelError.connectTimeout:
      self.init(
        code: .unavailable,
        message: "the Resumable server at \(socketPath) did not accept the connection within "
          + "\(timeout). Is it overloaded or stuck?",
        cause: error)
    default:
      self.init(
        code: .unavailable,
        message: "cannot connect to a Resumable server at \(socketPath): \(error)",
        cause: error, setting: startHint)
    }
  }
}
