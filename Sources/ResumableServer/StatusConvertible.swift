import ResumableCore
import ResumableWire

/// An error that knows its answer on the wire, in grpc-swift's
/// `RPCErrorConvertible` shape: the dispatcher asks it once
/// (`Dispatcher.answer(to:method:)`) and sends what it says. Any other error
/// is answered `INTERNAL` with a generic message, its detail logged.
protocol StatusConvertible: Error {
  /// The status to answer with.
  var status: StatusCode { get }
  /// What happened and what to do, for a person; it describes a limit, never a flag.
  var statusMessage: String { get }
  /// The server setting that would let the call through, when a limit or an
  /// access rule refused it.
  var statusSetting: ServerSetting? { get }
}

extension StatusConvertible {
  var statusSetting: ServerSetting? { nil }
}

/// A failure answered with a wire status: the server's own refusals.
struct RPCFailure: StatusConvertible {
  var status: StatusCode
  var statusMessage: String
  var statusSetting: ServerSetting?

  init(_ status: StatusCode, _ message: String, setting: ServerSetting? = nil) {
    self.status = status
    self.statusMessage = message
    self.statusSetting = setting
  }
}

extension EngineError: StatusConvertible {
  var status: StatusCode { StatusCode(code) }
  var statusMessage: String { message }
  var statusSetting: ServerSetting? { setting }
}

extension Envelope {
  /// Sets the status fields from `failure`.
  mutating func fail(with failure: any StatusConvertible) {
    statusCode = failure.status
    statusMessage = failure.statusMessage
    statusSetting = failure.statusSetting?.rawValue ?? ""
  }
}
