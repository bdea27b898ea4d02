/// The RPC methods, by the name carried in `Envelope.method`.
///
/// Matches `service Resumable` in `proto/resumable/v1/resumable.proto`.
public enum Method: String, Sendable, CaseIterable {
  /// Starts a run, or returns an existing one (`StartWorkflowRequest`).
  case startWorkflow = "StartWorkflow"
  /// Continues a failed or interrupted run (`ResumeWorkflowRequest`).
  case resumeWorkflow = "ResumeWorkflow"
  /// Reads a run's state (`GetStateRequest`).
  case getState = "GetState"
  /// Lists runs, newest first, a page at a time (`ListWorkflowsRequest`).
  case listWorkflows = "ListWorkflows"
  /// Stops a run for good (`CancelWorkflowRequest`).
  case cancelWorkflow = "CancelWorkflow"
  /// Approves or rejects the step a run awaits approval for (`ApproveStepRequest`).
  case approveStep = "ApproveStep"
  /// Streams a run's state, then its events until it ends (`WatchWorkflowRequest`);
  /// server-streaming: several response frames, the last with `end_of_stream`.
  case watchWorkflow = "WatchWorkflow"
  /// The server's health (`HealthRequest`).
  case health = "Health"

  /// Whether the method answers with a stream of frames rather than one.
  public var isServerStreaming: Bool { self == .watchWorkflow }
}
