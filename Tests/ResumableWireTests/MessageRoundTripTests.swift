import ResumableWire
import Testing

@Suite("Messages round-trip through protobuf-c")
struct MessageRoundTripTests {
  @Test func envelope() throws {
    try expectRoundTrip(Samples.envelope)
    try expectRoundTrip(Envelope(requestID: 1, method: "GetState"))
  }

  @Test func usage() throws { try expectRoundTrip(Samples.usage) }

  @Test func stepRecords() throws {
    for step in Samples.steps { try expectRoundTrip(step) }
  }

  @Test func artifacts() throws {
    for artifact in Samples.artifacts { try expectRoundTrip(artifact) }
  }

  @Test func costLedger() throws { try expectRoundTrip(Samples.cost) }

  @Test func runState() throws {
    try expectRoundTrip(Samples.runState)
    try expectRoundTrip(RunState(steps: [StepRecord()], artifacts: [Artifact()]))
  }

  @Test func startWorkflow() throws {
    try expectRoundTrip(Samples.startRequest)
    try expectRoundTrip(StartWorkflowResponse(state: Samples.runState, created: true))
  }

  @Test func resumeWorkflow() throws {
    try expectRoundTrip(ResumeWorkflowRequest(workflowID: "wf-1", noWait: true))
    try expectRoundTrip(ResumeWorkflowResponse(state: Samples.runState))
  }

  @Test func getState() throws {
    try expectRoundTrip(GetStateRequest(workflowID: "wf-1", includeArtifacts: true))
    try expectRoundTrip(GetStateResponse(state: Samples.runState))
  }

  @Test func largeValues() throws {
    let big = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    try expectRoundTrip(Envelope(method: String(repeating: "é", count: 50_000), payload: big))
    let manySteps = (0..<500).map { StepRecord(name: "step-\($0)", attempts: UInt32($0)) }
    try expectRoundTrip(RunState(steps: manySteps))
  }

  @Test(arguments: RunStatus.allCases) func runStatus(_ status: RunStatus) throws {
    try expectRoundTrip(RunState(status: status))
  }

  @Test(arguments: StepStatus.allCases) func stepStatus(_ status: StepStatus) throws {
    try expectRoundTrip(StepRecord(status: status))
  }

  @Test(arguments: ConflictPolicy.allCases) func conflictPolicy(_ policy: ConflictPolicy) throws {
    try expectRoundTrip(StartWorkflowRequest(onConflict: policy))
  }

  @Test(arguments: [-1, 0, 1, 5, 13, 16, 17, 42, Int(Int32.max), Int(Int32.min)])
  func statusCode(_ number: Int) throws {
    try expectRoundTrip(Envelope(statusCode: StatusCode(rawValue: number)))
  }

  @Test func defaultsTakeNoBytes() throws {
    #expect(Envelope().protobufBytes() == [])
    #expect(StartWorkflowRequest().protobufBytes() == [])
    #expect(RunState().protobufBytes() == [])
    #expect(StepRecord().protobufBytes() == [])
    #expect(StartWorkflowResponse().protobufBytes() == [])
    #expect(GetStateResponse(state: RunState(cost: CostLedger())).protobufBytes() == [])
    #expect(try Envelope(protobufBytes: []) == Envelope())
    #expect(try GetStateResponse(protobufBytes: []) == GetStateResponse())
    #expect(try StartWorkflowResponse(protobufBytes: []) == StartWorkflowResponse())
  }

  @Test func payloadCarriesAMethodMessage() throws {
    let request = GetStateRequest(workflowID: "wf-7", includeArtifacts: true)
    let envelope = Envelope(
      requestID: 7, method: Method.getState.rawValue, payload: request.protobufBytes())
    let decoded = try Envelope(protobufBytes: envelope.protobufBytes())
    #expect(Method(rawValue: decoded.method) == .getState)
    #expect(try GetStateRequest(protobufBytes: decoded.payload) == request)
  }

  /// protobuf-c strings are C strings: U+0000 cannot travel, the string stops there.
  @Test func encodingStopsAStringAtNUL() {
    #expect(
      Envelope(method: "Get\u{0}State").protobufBytes() == Envelope(method: "Get").protobufBytes())
  }
}
