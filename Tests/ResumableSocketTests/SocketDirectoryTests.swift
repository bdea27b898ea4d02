import Foundation
import ResumableClient
import ResumableTestSupport
import Testing

@testable import ResumableSocket

/// Issue 12, the default socket path: the user's runtime directory, else a directory in
/// /tmp that must be the user's own; and the rule for which server users a client trusts.
@Suite struct SocketDirectoryTests {
  @Test func theRuntimeDirectoryIsUsedWhenSet() {
    #expect(
      SocketDirectory.defaultSocketPath(environment: ["XDG_RUNTIME_DIR": "/run/user/1000"], uid: 1000)
        == "/run/user/1000/resumable.sock")
    #expect(
      SocketDirectory.defaultSocketPath(environment: ["XDG_RUNTIME_DIR": "/run/user/7/"], uid: 7)
        == "/run/user/7/resumable.sock")
  }

  @Test func withoutItAPerUserDirectoryInTmp() {
    #expect(SocketDirectory.defaultSocketPath(environment: [:], uid: 1000) == "/tmp/resumable-1000/resumable.sock")
    #expect(
      SocketDirectory.defaultSocketPath(environment: ["XDG_RUNTIME_DIR": ""], uid: 0) == "/tmp/resumable-0/resumable.sock")
  }

  @Test func theServerCreatesItPrivate() async throws {
    try await withTemporaryDirectory { parent in
      let directory = parent.appending("sockets")
      try SocketDirectory.secure(directory: directory, create: true, uid: geteuid())
      var info = stat()
      #expect(lstat(directory, &info) == 0)
      #expect(info.st_mode & 0o777 == 0o700)
      #expect(info.st_uid == geteuid())
      // Once more (it exists): still fine, for the server and for a client.
      try SocketDirectory.secure(directory: directory, create: true, uid: geteuid())
      try SocketDirectory.secure(directory: directory, create: false, uid: geteuid())
    }
  }

  @Test func aClientDoesNotCreateIt() async throws {
    try await withTemporaryDirectory { parent in
      let directory = parent.appending("missing")
      try SocketDirectory.secure(directory: directory, create: false, uid: geteuid())
      #expect(!FileManager.default.fileExists(atPath: directory))
    }
  }

  /// A directory another user made first, or opened to others, or a symlink: refused, by the
  /// server and by clients.
  @Test(arguments: ["mode 0777", "owned by nobody", "symlink", "file"])
  func aDirectoryNotTheUsersOwnIsRefused(kind: String) async throws {
    try await withTemporaryDirectory { parent in
      let directory = parent.appending("sockets")
      switch kind {
      case "mode 0777":
        #expect(mkdir(directory, 0o700) == 0)
        #expect(chmod(directory, 0o777) == 0)
      case "owned by nobody":
        #expect(mkdir(directory, 0o700) == 0)
        #expect(chown(directory, 65534, 65534) == 0, "the tests run as root")
      case "symlink":
        #expect(mkdir(parent.appending("elsewhere"), 0o700) == 0)
        #expect(symlink(parent.appending("elsewhere"), directory) == 0)
      default:
        #expect(FileManager.default.createFile(atPath: directory, contents: nil))
      }
      for create in [true, false] {
        let error = #expect(throws: SocketDirectoryError.self) {
          try SocketDirectory.secure(directory: directory, create: create, uid: geteuid())
        }
        #expect(error?.description.contains("refusing the socket directory \(directory)") == true)
      }
    }
  }

  @Test func onlyThePrivateDirectoryIsChecked() throws {
    // A socket anywhere else is its owner's business: no check, no directory made.
    try SocketDirectory.secure(forSocket: "/nonexistent/elsewhere/x.sock", create: true, uid: 4242)
    #expect(!FileManager.default.fileExists(atPath: "/nonexistent"))
  }

  @Test(arguments: [
    // (server, client, trusted, allowed)
    (UInt32(1000), UInt32(1000), UInt32?.none, true),
    (0, 1000, nil, true),
    (1001, 1000, nil, false),
    (1001, 1000, 1001, true),
    (1001, 1000, 1002, false),
    (1000, 0, nil, false),
    (0, 0, nil, true),
  ])
  func whichServerUsersAClientTrusts(server: UInt32, client: UInt32, trusted: UInt32?, allowed: Bool) {
    #expect(ResumableClient.trusts(serverUID: server, clientUID: client, trustedServerUID: trusted) == allowed)
  }
}
