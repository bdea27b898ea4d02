import ResumableWire
import Testing

@Suite("Operating messages round-trip through protobuf-c")
struct OperateMessageTests {
  static let approval = Approval(
    step: "publish", token: "t-1", kind: "low_confidence", confidence: 0.55, threshold: 0.7, requestedAtMs: 1_700_000_000_000,
    deadlineMs: 1_700_003_600_000)

  @Test func everyNewMessage() throws {
    try expectRoundTrip(Self.approval)
    try expectRoundTrip(RunState(workflowID: "r", status: .awaitingApproval, approval: Self.approval))
    try expectRoundTrip(ResumeWorkflowRequest(workflowID: "r", noWait: true, fromStep: "outline"))
    try expectRoundTrip(ListWorkflowsRequest(status: .failed, workflow: "research", pageSize: 20, cursor: "1700000000000:r-1"))
    let summary = RunSummary(
      workflowID: "r-1", workflow: "research", status: .failed, currentStep: "draft", currentStepIndex: 3, stepCount: 5,
      createdAtMs: 1, updatedAtMs: 2, cost: CostLedger(spentMicros: 400_000, savedByResumeMicros: 0, inputTokens: 1, outputTokens: 2),
      error: "boom")
    try expectRoundTrip(ListWorkflowsResponse(runs: [summary, RunSummary()], nextCursor: "2:r-0"))
    try expectRoundTrip(CancelWorkflowRequest(workflowID: "r", reason: "why"))
    try expectRoundTrip(CancelWorkflowResponse(state: RunState(workflowID: "r", status: .cancelled)))
    try expectRoundTrip(ApproveStepRequest(workflowID: "r", token: "t", reject: true, note: "no", noWait: true))
    try expectRoundTrip(ApproveStepResponse(state: RunState(workflowID: "r")))
    try expectRoundTrip(WatchWorkflowRequest(workflowID: "r"))
    let event = RunEvent(
      type: "attempt_failed", step: "draft", attempt: 2, atMs: 5, message: "504", nextAttemptAtMs: 9, status: .running)
    try expectRoundTrip(WatchWorkflowResponse(state: RunState(workflowID: "r"), event: event))
    try expectRoundTrip(HealthRequest())
    try expectRoundTrip(
      HealthResponse(
        status: "SERVING", version: "0.5.0", redisReachable: true, redisLatencyUs: 42, redisError: "", runsInFlight: 3,
        uptimeMs: 1000))
  }

  @Test func theNewMethodsAreKnownAndOnlyWatchAndTheWorkerFeedStream() {
    #expect(Method(rawValue: "ListWorkflows") == .listWorkflows)
    #expect(Method(rawValue: "ApproveStep") == .approveStep)
    #expect(Method(rawValue: "CompleteTask") == .completeTask)
    #expect(Method.allCases.filter(\.isServerStreaming) == [.watchWorkflow, .connectWorker])
  }
}
