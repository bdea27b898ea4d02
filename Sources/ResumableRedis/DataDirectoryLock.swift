import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// An exclusive lock on a data directory: `flock(LOCK_EX | LOCK_NB)` on `resumable.lock`
/// inside it, which holds the pid of the process that owns it.
///
/// The kernel drops the lock when the descriptor closes: on ``release()``, on `deinit`,
/// and when the owning process dies however it dies (SIGKILL included), so a lock is never
/// left stale. Locks taken twice in one process conflict too (`flock` locks belong to the
/// open file, not the process).
final class DataDirectoryLock: Sendable {
  /// The lock file's path.
  let path: String
  private let descriptor: Int32

  private init(path: String, descriptor: Int32) {
    self.path = path
    self.descriptor = descriptor
  }

  deinit { close(descriptor) }

  /// The lock file's name inside the data directory.
  static let fileName = "resumable.lock"

  /// Creates `directory` (mode 0700) if missing and takes its lock, writing this
  /// process' pid into the lock file. Blocking syscalls: call from a thread pool.
  ///
  /// - Throws: `RedisServerError` `.dataDirectoryInUse` naming the directory and the pid
  ///   that holds it, or `.spawnFailed` when the directory or the file cannot be made.
  static func acquire(directory: String) throws(RedisServerError) -> DataDirectoryLock {
    do {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true,
        attributes: [.posixPermissions: 0o700])
    } catch {
      throw RedisServerError(
        code: .spawnFailed, message: "cannot create the data directory \(directory): \(error)")
    }
    let path = directory + "/" + fileName
    let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
    guard descriptor >= 0 else {
      throw RedisServerError(
        code: .spawnFailed, message: "cannot open the lock file \(path): \(String(cString: strerror(errno)))")
    }
    var result: Int32
    repeat { result = flock(descriptor, LOCK_EX | LOCK_NB) } while result != 0 && errno == EINTR
    guard result == 0 else {
      let problem = errno
      let holder = Self.holder(descriptor)
      close(descriptor)
      guard problem == EWOULDBLOCK else {
        throw RedisServerError(
          code: .spawnFailed, message: "cannot lock \(path): \(String(cString: strerror(problem)))")
      }
      throw RedisServerError(
        code: .dataDirectoryInUse,
        message: "the data directory \(directory) is in use by "
          + (holder.map { "process \($0)" } ?? "another process")
          + " (it holds \(path)); a second redis-server on it would write the same "
          + "append-only file. Stop that server first, or use another data directory.")
    }
    let text = Array("\(getpid())\n".utf8)
    _ = ftruncate(descriptor, 0)
    _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    return DataDirectoryLock(path: path, descriptor: descriptor)
  }

  /// The pid written in the lock file, if it holds one.
  private static func holder(_ descriptor: Int32) -> Int32? {
    var bytes = [UInt8](repeating: 0, count: 32)
    let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
    guard count > 0 else { return nil }
    return Int32(String(decoding: bytes[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
  }
}
