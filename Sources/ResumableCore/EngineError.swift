/// A request the engine could not serve, with a status code and a message a
/// person can act on. The server sends `code` as the gRPC status.
public struct EngineError: Error, Hashable, Sendable, CustomStringConvertible {
  /// A status code, spelled and numbered as gRPC's. A struct of static values so codes can
  /// be added without breaking users.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    /// gRPC's number for the code: what the server sends as the status.
    public let number: Int
    /// gRPC's name for the code, e.g. `INVALID_ARGUMENT`.
    public let description: String

    private init(_ number: Int, _ name: String) {
      self.number = number
      self.description = name
    }

    public static let invalidArgument = Code(3, "INVALID_ARGUMENT")
    public static let deadlineExceeded = Code(4, "DEADLINE_EXCEEDED")
    public static let notFound = Code(5, "NOT_FOUND")
    public static let alreadyExists = Code(6, "ALREADY_EXISTS")
    public static let resourceExhausted = Code(8, "RESOURCE_EXHAUSTED")
    public static let failedPrecondition = Code(9, "FAILED_PRECONDITION")
    public static let aborted = Code(10, "ABORTED")
    public static let `internal` = Code(13, "INTERNAL")
    public static let unavailable = Code(14, "UNAVAILABLE")
  }

  public var code: Code
  public var message: String
  /// The server setting that would have let the request through, when a
  /// limit refused it.
  public var setting: ServerSetting?

  public init(_ code: Code, _ message: String, setting: ServerSetting? = nil) {
    self.code = code
    self.message = message
    self.setting = setting
  }

  public var description: String { "\(code): \(message)" }
}

extension StoreError {
  /// Any error as a store error (a non-store error is a corrupt read).
  init(_ error: any Error) {
    if let error = error as? StoreError {
      self = error
    } else {
      self.init(.corrupt, "\(error)")
    }
  }
}

extension EngineError {
  /// The engine's answer to a failure while serving a request about `workflowID`.
  init(_ error: any Error, workflowID: String) {
    if let error = error as? EngineError {
      self = error
      return
    }
    let error = StoreError(error)
    switch error.kind {
    case .unavailable:
      self.init(.unavailable, "\(error.message); retry shortly — nothing committed is lost")
    case .notFound:
      self.init(.notFound, "no run with id '\(workflowID)' (it never existed or has expired)")
    case .unsupportedSchema:
      self.init(.failedPrecondition, error.message)
    case .fenced, .conflict:
      self.init(.aborted, "run '\(workflowID)' changed concurrently (\(error.message)); retry")
    case .corrupt:
      self.init(.internal, "run '\(workflowID)' cannot be read: \(error.message)")
    }
  }

  /// NOT_FOUND for run `workflowID`.
  static func runNotFound(_ workflowID: String) -> EngineError {
    EngineError(StoreError(.notFound, ""), workflowID: workflowID)
  }

  /// What `operation` returns; any error it throws as the engine's answer about run `workflowID`.
  static func answering<T>(
    about workflowID: String, _ operation: () async throws -> T
  ) async throws(EngineError) -> T {
    do {
      return try await operation()
    } catch {
      throw EngineError(error, workflowID: workflowID)
    }
  }
}

/// The rules for workflow ids: 1 to 128 bytes of `[A-Za-z0-9._:-]`.
public enum WorkflowID {
  /// The longest id, in bytes.
  public static let maximumLength = 128

  /// Why `id` is not a valid workflow id, or nil when it is.
  public static func problem(with id: String) -> String? {
    if id.isEmpty { return "the workflow id is empty" }
    if id.utf8.count > maximumLength {
      return "the workflow id is \(id.utf8.count) bytes long; the limit is \(maximumLength)"
    }
    if let bad = id.unicodeScalars.first(where: { !isAllowed($0) }) {
      return "the workflow id contains '\(bad.escaped(asASCII: true))'; use only letters, digits and . _ : -"
    }
    return nil
  }

  private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case "a"..."z", "A"..."Z", "0"..."9", ".", "_", ":", "-": true
    default: false
    }
  }
}

extension EngineError {
  /// The answer to a start or resume beyond `EngineConfiguration.maximumActiveRuns`.
  static func tooManyRuns(_ limit: Int) -> EngineError {
    EngineError(
      .resourceExhausted,
      "this server is executing \(limit) runs, its limit; retry when some have finished, "
        + "or raise the limit", setting: .maximumRuns)
  }
}
