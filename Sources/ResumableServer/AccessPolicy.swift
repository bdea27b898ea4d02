import Glibc
import ResumableSocket

/// Which local users may use the server (docs/Contract.md G8), beyond the socket
/// file's own mode and group.
///
/// With no allowed uid and no allowed gid, every peer that can open the socket
/// file is let in. Otherwise a peer is let in when its uid is in `allowedUIDs`
/// or its (effective, primary) gid is in `allowedGIDs`; supplementary groups
/// are not consulted.
public struct AccessPolicy: Sendable, Hashable {
  /// The socket file's permission bits (default 0600: the owner only).
  public var socketMode: UInt32 = 0o600
  /// The group the socket file is given (`chown`), e.g. the app's group with
  /// mode 0660; nil keeps the server's group.
  public var socketGroup: String?
  /// Peer user ids let in; empty with `allowedGIDs` empty: no check.
  public var allowedUIDs: Set<UInt32> = []
  /// Peer group ids let in; empty with `allowedUIDs` empty: no check.
  public var allowedGIDs: Set<UInt32> = []

  public init() {}

  /// Whether any allow-list is set.
  public var checksPeers: Bool { !allowedUIDs.isEmpty || !allowedGIDs.isEmpty }

  /// Why `peer` is refused, or nil when it may connect.
  func refusal(of peer: PeerCredentials) -> String? {
    guard checksPeers else { return nil }
    if allowedUIDs.contains(peer.uid) || allowedGIDs.contains(peer.gid) { return nil }
    let uids = allowedUIDs.sorted().map(String.init).joined(separator: ",")
    let gids = allowedGIDs.sorted().map(String.init).joined(separator: ",")
    var allowed: [String] = []
    if !uids.isEmpty { allowed.append("uids \(uids)") }
    if !gids.isEmpty { allowed.append("gids \(gids)") }
    return "uid \(peer.uid) (gid \(peer.gid)) is not allowed to use this server (allowed: \(allowed.joined(separator: "; ")))"
  }
}

extension AccessPolicy {
  /// The group id of the group named `name` (or a numeric gid).
  static func groupID(named name: String) throws(ServerError) -> gid_t {
    if let number = UInt32(name) { return number }
    var group = group()
    var result: UnsafeMutablePointer<group>?
    var buffer = [CChar](repeating: 0, count: 16 * 1024)
    let status = getgrnam_r(name, &group, &buffer, buffer.count, &result)
    guard status == 0, let result else {
      throw ServerError("no group named '\(name)' on this host", setting: .socketGroup)
    }
    return result.pointee.gr_gid
  }

  /// Gives the socket file its group and mode.
  func apply(toSocketAt path: String) throws(ServerError) {
    if let socketGroup {
      let gid = try Self.groupID(named: socketGroup)
      guard chown(path, uid_t.max, gid) == 0 else {
        throw ServerError("cannot give '\(path)' the group '\(socketGroup)': \(String(cString: strerror(errno)))")
      }
    }
    guard chmod(path, mode_t(socketMode)) == 0 else {
      throw ServerError("cannot set the mode of '\(path)': \(String(cString: strerror(errno)))")
    }
  }
}
