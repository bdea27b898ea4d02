import Foundation
import NIOCore
import NIOPosix
public import ResumableCore
import ResumableSocket

/// Prepares the path a Unix socket is bound to: refuses to start while
/// another server listens there, removes a stale socket file otherwise, and
/// never removes a file that is not a socket.
enum SocketFile {
  static func prepare(path: String, group: any EventLoopGroup) async throws(ServerError) {
    guard path.utf8.count < 108 else {
      throw ServerError("the socket path '\(path)' is \(path.utf8.count) bytes; Unix socket paths must be shorter than 108 bytes")
    }
    var info = stat()
    guard lstat(path, &info) == 0 else { return }  // nothing there
    guard (info.st_mode & S_IFMT) == S_IFSOCK else {
      throw ServerError("'\(path)' exists and is not a socket; choose another socket path or remove the file", setting: .socketPath)
    }
    if await UnixSocketProbe.isListening(path: path, group: group) {
      throw ServerError("another server is listening on '\(path)'; stop it, or choose another socket path", setting: .socketPath)
    }
    guard unlink(path) == 0 || errno == ENOENT else {
      throw ServerError("cannot remove the stale socket file '\(path)': \(String(cString: strerror(errno)))")
    }
  }
}

/// A failure to start or run the server (bind, configuration, Redis), as
/// opposed to a failed request.
public struct ServerError: Error, CustomStringConvertible, Sendable {
  public var message: String
  /// The setting to change, when one would let the server start.
  public var setting: ServerSetting?

  public init(_ message: String, setting: ServerSetting? = nil) {
    self.message = message
    self.setting = setting
  }

  public var description: String { message }
}
