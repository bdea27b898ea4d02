internal import CResumableSocket
public import NIOCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Who is at the other end of a Unix socket connection, as the kernel says
/// (`SO_PEERCRED`): the peer's process id, user id and group id at the time
/// it connected (for a client) or listened (for a server). A peer cannot
/// forge these.
public struct PeerCredentials: Sendable, Hashable, CustomStringConvertible {
  /// The peer's process id.
  public var pid: Int32
  /// The peer's effective user id.
  public var uid: UInt32
  /// The peer's effective group id.
  public var gid: UInt32

  /// Creates credentials (for tests and rules; real ones come from ``of(_:)``).
  public init(pid: Int32, uid: UInt32, gid: UInt32) {
    self.pid = pid
    self.uid = uid
    self.gid = gid
  }

  /// Reads the credentials of `channel`'s peer.
  ///
  /// The one place a socket option is read by its C layout
  /// (`c_resumable_peer_credentials`, checked against `struct ucred` at compile time);
  /// the server and the client both read their peer through it.
  /// - Throws: `ChannelError.operationUnsupported` when the channel is not a socket, or
  ///   the `getsockopt` failure (`ioOnClosedChannel` once the channel has closed).
  public static func of(_ channel: any Channel) async throws -> PeerCredentials {
    try await future(of: channel).get()
  }

  /// ``of(_:)`` as a future. Called on the channel's event loop it reads at once, before
  /// the loop handles anything more of the channel (a peer that writes and closes at once
  /// cannot close it first).
  public static func future(of channel: any Channel) -> EventLoopFuture<PeerCredentials> {
    guard let provider = channel as? any SocketOptionProvider else {
      return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
    }
    let value: EventLoopFuture<c_resumable_peer_credentials> = provider.unsafeGetSocketOption(
      level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
    return value.map { PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
  }

  public var description: String { "uid \(uid), gid \(gid), pid \(pid)" }
}
