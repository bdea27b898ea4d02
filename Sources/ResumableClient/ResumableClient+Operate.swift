public import ResumableWire

extension ResumableClient {
  /// Lists runs, newest first, a page at a time (`ListWorkflows`).
  /// - Throws: ``ResumableClientError``: the server's status, or a client-side failure.
  public func listWorkflows(
    _ request: ListWorkflowsRequest, timeout: Duration? = nil
  ) async throws(ResumableClientError) -> ListWorkflowsResponse {
    try await call(.listWorkflows, request, timeout: timeout)
  }

  /// Cancels a run for good (`CancelWorkflow`): its step in flight is stopped.
  /// - Throws: ``ResumableClientError``: `notFound`, `failedPrecondition` for a completed run, …
  public func cancelWorkflow(
    _ request: CancelWorkflowRequest, timeout: Duration? = nil
  ) async throws(ResumableClientError) -> CancelWorkflowResponse {
    try await call(.cancelWorkflow, request, timeout: timeout)
  }

  /// Approves or rejects the step a run awaits approval for (`ApproveStep`).
  /// - Throws: ``ResumableClientError``: `failedPrecondition` for a used or wrong token, …
  public func approveStep(
    _ request: ApproveStepRequest, timeout: Duration? = nil
  ) async throws(ResumableClientError) -> ApproveStepResponse {
    try await call(.approveStep, request, timeout: timeout)
  }

  /// The server's health (`Health`).
  public func health(timeout: Duration? = nil) async throws(ResumableClientError) -> HealthResponse {
    try await call(.health, HealthRequest(), timeout: timeout)
  }
}
