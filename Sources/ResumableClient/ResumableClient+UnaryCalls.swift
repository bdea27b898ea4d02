public import ResumableWire

/// Every unary method of `service Resumable` (`startWorkflow`, `getState`, `listWorkflows`,
/// `cancelWorkflow`, `approveStep`, `health`, …), typed, with the .proto's documentation:
/// generated (`ResumableUnaryCalls`), on ``ResumableClient/call(_:_:timeout:)``. A method added
/// to the .proto is a method of the client at once. `watchWorkflow` is in
/// ResumableClient+Watch.swift.
extension ResumableClient: ResumableUnaryCalls {
  public typealias CallError = ResumableClientError
}
