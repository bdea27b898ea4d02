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
}
