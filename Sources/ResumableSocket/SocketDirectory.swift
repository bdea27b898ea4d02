import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Where the server's socket lives by default, and the rules that keep that place the
/// user's own.
///
/// `/tmp/resumable.sock` could be created first by any local user, who would then receive
/// every client's calls. The default is `$XDG_RUNTIME_DIR/resumable.sock` (a directory the
/// session manager makes for this user alone), else `/tmp/resumable-UID/resumable.sock` in a
/// directory that must be this user's own: a real directory (not a symlink), owned by the
/// effective uid, with no group or other permission bits. The server creates it (mode 0700);
/// clients only check it.
public enum SocketDirectory {
  /// The socket's file name inside the directory.
  public static let socketName = "resumable.sock"

  /// The default socket path: `$XDG_RUNTIME_DIR/resumable.sock` when that is set (and not
  /// empty), else `/tmp/resumable-UID/resumable.sock` for the effective `uid`.
  /// - Parameters:
  ///   - environment: The environment to read `XDG_RUNTIME_DIR` from; `nil`: this process'.
  ///   - uid: The user whose directory it is; `nil`: the effective uid.
  public static func defaultSocketPath(environment: [String: String]? = nil, uid: UInt32? = nil) -> String {
    let environment = environment ?? ProcessInfo.processInfo.environment
    if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
      return (runtime.hasSuffix("/") ? runtime : runtime + "/") + socketName
    }
    return privateDirectory(uid: uid) + "/" + socketName
  }

  /// `/tmp/resumable-UID`, the directory of the default socket without `XDG_RUNTIME_DIR`.
  /// - Parameter uid: The user whose directory it is; `nil`: the effective uid.
  public static func privateDirectory(uid: UInt32? = nil) -> String { "/tmp/resumable-\(uid ?? geteuid())" }

  /// Makes sure the directory of a socket at `socketPath` is this user's own, when it is
  /// ``privateDirectory(uid:)``; any other path is left to its owner's care.
  /// - Parameters:
  ///   - socketPath: The socket path about to be bound or connected to.
  ///   - create: Whether to create the directory (mode 0700) when it is missing: the server
  ///     does, a client does not (a missing one just means no server is there).
  ///   - uid: The uid that must own it; `nil`: the effective uid.
  /// - Throws: ``SocketDirectoryError`` saying what is wrong and what to do.
  public static func secure(forSocket socketPath: String, create: Bool, uid: UInt32? = nil)
    throws(SocketDirectoryError)
  {
    let uid = uid ?? geteuid()
    let directory = privateDirectory(uid: uid)
    guard (socketPath as NSString).deletingLastPathComponent == directory else { return }
    try secure(directory: directory, create: create, uid: uid)
  }

  /// Creates `directory` (mode 0700) if asked and missing, and checks it is `uid`'s own.
  static func secure(directory: String, create: Bool, uid: UInt32) throws(SocketDirectoryError) {
    if create {
      if mkdir(directory, 0o700) == 0 {
        _ = chmod(directory, 0o700)  // whatever the umask took away
      } else if errno != EEXIST {
        throw SocketDirectoryError(
          directory: directory, problem: "it cannot be created: \(String(cString: strerror(errno)))")
      }
    }
    var info = stat()
    guard lstat(directory, &info) == 0 else {
      if errno == ENOENT, !create { return }
      throw SocketDirectoryError(
        directory: directory, problem: "it cannot be examined: \(String(cString: strerror(errno)))")
    }
    if let problem = problem(mode: info.st_mode, owner: info.st_uid, uid: uid) {
      throw SocketDirectoryError(directory: directory, problem: problem)
    }
  }

  /// Why a directory of this `mode` and `owner` is not `uid`'s own, or nil when it is.
  static func problem(mode: mode_t, owner: uid_t, uid: UInt32) -> String? {
    if mode & S_IFMT == S_IFLNK { return "it is a symbolic link" }
    if mode & S_IFMT != S_IFDIR { return "it is not a directory" }
    if owner != uid { return "it belongs to uid \(owner), not to you (uid \(uid))" }
    if mode & 0o077 != 0 {
      return "its mode \(String(mode & 0o777, radix: 8)) lets other users in (it must be 700)"
    }
    return nil
  }
}

/// The default socket's directory is not the user's own: someone else may have made it, to
/// receive the calls meant for the user's server.
public struct SocketDirectoryError: Error, Sendable, CustomStringConvertible {
  /// The directory.
  public var directory: String
  /// What is wrong with it.
  public var problem: String

  /// What is wrong, and what to do.
  public var description: String {
    "refusing the socket directory \(directory): \(problem). Remove it (or fix it: "
      + "`chmod 700`, owned by you), or choose another socket path"
  }
}
