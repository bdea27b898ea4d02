import ResumableClient
import ResumableCore
import ResumableRedis
import ResumableServer

/// How the person at this command line changes the setting an error names:
/// the flag, which only the command line knows (lower layers describe the
/// limit, and name the setting by its stable name).
enum ErrorHints {
  /// The `serve` flag of each server setting.
  static func serveFlag(_ setting: ServerSetting) -> String? {
    switch setting {
    case .maximumRuns: "--max-runs"
    case .maximumConnections: "--max-connections"
    case .maximumRequestsPerConnection: "--max-requests-per-connection"
    case .maximumRequestBytesPerConnection: "--max-request-bytes-per-connection"
    case .maximumFrameBytes: "--max-frame-bytes"
    case .allowedPeers: "--allow-uid` or `--allow-gid"
    case .socketPath: "--socket"
    case .socketGroup: "--socket-group"
    default: nil
    }
  }

  /// A client command's error message, with how to change the setting it names.
  static func message(of error: ResumableClientError) -> String {
    guard let setting = error.setting else { return error.message }
    switch setting.name {
    case "socket":
      let path = setting.value ?? "PATH"
      return "\(error.message). Start the server with `resumable serve --socket \(path)`, or point the client "
        + "at a running one (--socket PATH or RESUMABLE_SOCKET)."
    case "trusted_server_uid":
      return "\(error.message); pass --trust-server-uid \(setting.value ?? "UID") if you trust it"
    default:
      guard let flag = serveFlag(ServerSetting(rawValue: setting.name)) else { return error.message }
      return "\(error.message); the server's operator can change this with `resumable serve \(flag)`"
    }
  }

  /// A `serve` failure's message, with the flag that changes what stopped it.
  static func message(of error: any Error) -> String {
    switch error {
    case let error as ServerError:
      guard let flag = error.setting.flatMap(serveFlag) else { return error.message }
      return "\(error.message) (\(flag))"
    case let error as RedisServerError where error.code == .notInstalled:
      let message = error.message.hasSuffix(".") ? String(error.message.dropLast()) : error.message
      return "\(message) (--redis URL)."
    default:
      return "\(error)"
    }
  }
}
