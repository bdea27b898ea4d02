import Foundation
import NIOPosix
import ResumableCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A fresh directory with a short path under `/tmp` (e.g. `/tmp/rsm-a1B2c3`), short enough
/// for Unix socket paths inside it (the OS limit is 107 bytes).
///
/// - Important: Tests only. Remove it with ``remove()`` (``withTemporaryDirectory(_:)``
///   does it for you).
public struct TemporaryDirectory: Sendable, Hashable, CustomStringConvertible {
  /// The absolute path, without a trailing slash.
  public let path: String

  /// Creates the directory (mode 0700) with `mkdtemp`.
  public static func create(prefix: String = "rsm") async throws -> TemporaryDirectory {
    try await NIOThreadPool.singleton.runIfActive {
      var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
      guard let created = mkdtemp(&template) else {
        throw TestSupportError(
          "mkdtemp /tmp/\(prefix)-XXXXXX failed: \(String(cString: strerror(errno)))")
      }
      return TemporaryDirectory(path: String(cString: created))
    }
  }

  /// `path/name`.
  public func appending(_ name: String) -> String { path + "/" + name }

  /// Deletes the directory and everything in it; errors are ignored (it is a temp dir).
  public func remove() async {
    let path = self.path
    _ = try? await NIOThreadPool.singleton.runIfActive {
      try FileManager.default.removeItem(atPath: path)
    }
  }

  public var description: String { path }
}

/// Runs `body` with a fresh ``TemporaryDirectory`` and removes it afterwards, also when
/// `body` throws.
public func withTemporaryDirectory<T>(
  isolation: isolated (any Actor)? = #isolation,
  _ body: (TemporaryDirectory) async throws -> T
) async throws -> T {
  try await withResource(try await TemporaryDirectory.create(), body) { await $0.remove() }
}

/// A test-support failure with a plain message.
public struct TestSupportError: Error, Sendable, CustomStringConvertible {
  /// What went wrong.
  public var message: String
  /// Creates an error.
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
