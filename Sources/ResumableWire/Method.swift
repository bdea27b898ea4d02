/// The RPC methods, by the name carried in `Envelope.method`.
///
/// Matches `service Resumable` in `proto/resumable/v1/resumable.proto`.
public enum Method: String, Sendable, CaseIterable {
  case startWorkflow = "StartWorkflow"
  case resumeWorkflow = "ResumeWorkflow"
  case getState = "GetState"
}
