import ResumableSocket

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

extension ResumableClient {
  /// Whether a client running as `clientUID` talks to a server running as `serverUID`: when
  /// it is the same user, root, or `trustedServerUID`.
  /// - Parameters:
  ///   - serverUID: The server's user id, as the kernel reports it (`SO_PEERCRED`).
  ///   - clientUID: This process' effective user id.
  ///   - trustedServerUID: One more user id to trust (``Configuration/trustedServerUID``).
  public static func trusts(serverUID: UInt32, clientUID: UInt32, trustedServerUID: UInt32?) -> Bool {
    serverUID == clientUID || serverUID == 0 || serverUID == trustedServerUID
  }

  /// Refuses a server whose user this client does not trust (see ``trusts(serverUID:clientUID:trustedServerUID:)``).
  static func checkServerUser(
    _ credentials: Result<PeerCredentials, any Error>, socketPath: String, trusting trusted: UInt32?
  ) throws(ResumableClientError) {
    let server: PeerCredentials
    do {
      server = try credentials.get()
    } catch {
      throw ResumableClientError(
        code: .unavailable,
        message: "cannot tell who runs the server on \(socketPath) (SO_PEERCRED failed: \(error)); not using it",
        cause: error)
    }
    let me = geteuid()
    guard trusts(serverUID: server.uid, clientUID: me, trustedServerUID: trusted) else {
      throw ResumableClientError(
        code: .unavailable,
        message: "the server on \(socketPath) runs as uid \(server.uid), not you (uid \(me))",
        setting: ResumableClientError.Setting("trusted_server_uid", value: "\(server.uid)"))
    }
  }
}
