// The messages of Messages.swift <-> protobuf-c. See `ProtobufC.swift` for the
// memory and string rules. Every conformance decodes with `init(unpacking:)`,
// which throws `WireError` naming the message when protobuf-c rejects the
// bytes, a string field is not UTF-8 text without NUL or a field came with the
// wrong wire type, and encodes with `packed()`, which sends strings up to
// their first U+0000 and leaves out fields (nested messages included) at
// their defaults.

internal import CResumableProto

// MARK: - WireMessage

extension Usage: WireMessage {
  /// Decodes a `resumable.v1.Usage`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension StepRecord: WireMessage {
  /// Decodes a `resumable.v1.StepRecord`; an unknown status number is `.unspecified`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension GivenInput: WireMessage {
  /// Decodes a `resumable.v1.GivenInput`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension HistoryMessage: WireMessage {
  /// Decodes a `resumable.v1.HistoryMessage`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension Artifact: WireMessage {
  /// Decodes a `resumable.v1.Artifact`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension CostLedger: WireMessage {
  /// Decodes a `resumable.v1.CostLedger`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension RunState: WireMessage {
  /// Decodes a `resumable.v1.RunState`; an unknown status number is `.unspecified`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension StartWorkflowRequest: WireMessage {
  /// Decodes a `resumable.v1.StartWorkflowRequest`; an unknown conflict policy is `.fail`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension StartWorkflowResponse: WireMessage {
  /// Decodes a `resumable.v1.StartWorkflowResponse`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension ResumeWorkflowRequest: WireMessage {
  /// Decodes a `resumable.v1.ResumeWorkflowRequest`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension ResumeWorkflowResponse: WireMessage {
  /// Decodes a `resumable.v1.ResumeWorkflowResponse`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension GetStateRequest: WireMessage {
  /// Decodes a `resumable.v1.GetStateRequest`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension GetStateResponse: WireMessage {
  /// Decodes a `resumable.v1.GetStateResponse`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

// MARK: - Nested messages

extension Usage: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__Usage> {
    ProtobufCFunctions(
      descriptor: resumable__v1__usage__descriptor,
      packedSize: resumable__v1__usage__get_packed_size,
      pack: resumable__v1__usage__pack,
      unpack: resumable__v1__usage__unpack,
      freeUnpacked: resumable__v1__usage__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__Usage) {
    self.init(inputTokens: c.input_tokens, outputTokens: c.output_tokens, costMicros: c.cost_micros)
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__Usage {
    var c = Resumable__V1__Usage()
    resumable__v1__usage__init(&c)
    c.input_tokens = inputTokens
    c.output_tokens = outputTokens
    c.cost_micros = costMicros
    return c
  }
}

extension StepRecord: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__StepRecord> {
    ProtobufCFunctions(
      descriptor: resumable__v1__step_record__descriptor,
      packedSize: resumable__v1__step_record__get_packed_size,
      pack: resumable__v1__step_record__pack,
      unpack: resumable__v1__step_record__unpack,
      freeUnpacked: resumable__v1__step_record__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__StepRecord) {
    self.init(
      name: swiftString(c.name),
      plugin: swiftString(c.plugin),
      status: StepStatus(rawValue: enumNumber(c.status.rawValue)) ?? .unspecified,
      attempts: c.attempts,
      usage: Usage.value(c.usage, default: Usage()),
      lastError: swiftString(c.last_error),
      lastErrorRetryable: c.last_error_retryable != 0,
      startedAtMs: c.started_at_ms,
      finishedAtMs: c.finished_at_ms,
      artifactBytes: c.artifact_bytes,
      savedMicros: c.saved_micros,
      lastErrorClass: ErrorClass(rawValue: enumNumber(c.last_error_class.rawValue)) ?? .unspecified,
      waitReason: swiftString(c.wait_reason),
      nextAttemptAtMs: c.next_attempt_at_ms,
      inputsGiven: GivenInput.values(c.inputs_given, count: c.n_inputs_given),
      historyMessagesGiven: c.history_messages_given,
      historyBytesGiven: c.history_bytes_given
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__StepRecord {
    var c = Resumable__V1__StepRecord()
    resumable__v1__step_record__init(&c)
    c.name = arena.cString(name)
    c.plugin = arena.cString(plugin)
    c.status = Resumable__V1__StepStatus(rawValue: enumRawValue(status.rawValue))
    c.attempts = attempts
    c.usage = Usage.cMessageField(usage, default: Usage(), in: &arena)
    c.last_error = arena.cString(lastError)
    c.last_error_retryable = lastErrorRetryable ? 1 : 0
    c.started_at_ms = startedAtMs
    c.finished_at_ms = finishedAtMs
    c.artifact_bytes = artifactBytes
    c.saved_micros = savedMicros
    c.last_error_class = Resumable__V1__ErrorClass(rawValue: enumRawValue(lastErrorClass.rawValue))
    c.wait_reason = arena.cString(waitReason)
    c.next_attempt_at_ms = nextAttemptAtMs
    c.n_inputs_given = inputsGiven.count
    c.inputs_given = GivenInput.cMessagePointers(inputsGiven, in: &arena)
    c.history_messages_given = historyMessagesGiven
    c.history_bytes_given = historyBytesGiven
    return c
  }
}

extension GivenInput: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__GivenInput> {
    ProtobufCFunctions(
      descriptor: resumable__v1__given_input__descriptor,
      packedSize: resumable__v1__given_input__get_packed_size,
      pack: resumable__v1__given_input__pack,
      unpack: resumable__v1__given_input__unpack,
      freeUnpacked: resumable__v1__given_input__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__GivenInput) {
    self.init(name: swiftString(c.name), bytes: c.bytes)
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__GivenInput {
    var c = Resumable__V1__GivenInput()
    resumable__v1__given_input__init(&c)
    c.name = arena.cString(name)
    c.bytes = bytes
    return c
  }
}

extension HistoryMessage: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__HistoryMessage> {
    ProtobufCFunctions(
      descriptor: resumable__v1__history_message__descriptor,
      packedSize: resumable__v1__history_message__get_packed_size,
      pack: resumable__v1__history_message__pack,
      unpack: resumable__v1__history_message__unpack,
      freeUnpacked: resumable__v1__history_message__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__HistoryMessage) {
    self.init(role: swiftString(c.role), content: swiftString(c.content))
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__HistoryMessage {
    var c = Resumable__V1__HistoryMessage()
    resumable__v1__history_message__init(&c)
    c.role = arena.cString(role)
    c.content = arena.cString(content)
    return c
  }
}

extension Artifact: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__Artifact> {
    ProtobufCFunctions(
      descriptor: resumable__v1__artifact__descriptor,
      packedSize: resumable__v1__artifact__get_packed_size,
      pack: resumable__v1__artifact__pack,
      unpack: resumable__v1__artifact__unpack,
      freeUnpacked: resumable__v1__artifact__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__Artifact) {
    self.init(step: swiftString(c.step), data: swiftBytes(c.data))
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__Artifact {
    var c = Resumable__V1__Artifact()
    resumable__v1__artifact__init(&c)
    c.step = arena.cString(step)
    c.data = arena.binaryData(data)
    return c
  }
}

extension CostLedger: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__CostLedger> {
    ProtobufCFunctions(
      descriptor: resumable__v1__cost_ledger__descriptor,
      packedSize: resumable__v1__cost_ledger__get_packed_size,
      pack: resumable__v1__cost_ledger__pack,
      unpack: resumable__v1__cost_ledger__unpack,
      freeUnpacked: resumable__v1__cost_ledger__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__CostLedger) {
    self.init(
      spentMicros: c.spent_micros,
      savedByResumeMicros: c.saved_by_resume_micros,
      inputTokens: c.input_tokens,
      outputTokens: c.output_tokens
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__CostLedger {
    var c = Resumable__V1__CostLedger()
    resumable__v1__cost_ledger__init(&c)
    c.spent_micros = spentMicros
    c.saved_by_resume_micros = savedByResumeMicros
    c.input_tokens = inputTokens
    c.output_tokens = outputTokens
    return c
  }
}

extension RunState: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__RunState> {
    ProtobufCFunctions(
      descriptor: resumable__v1__run_state__descriptor,
      packedSize: resumable__v1__run_state__get_packed_size,
      pack: resumable__v1__run_state__pack,
      unpack: resumable__v1__run_state__unpack,
      freeUnpacked: resumable__v1__run_state__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__RunState) {
    self.init(
      workflowID: swiftString(c.workflow_id),
      workflow: swiftString(c.workflow),
      status: RunStatus(rawValue: enumNumber(c.status.rawValue)) ?? .unspecified,
      currentStep: swiftString(c.current_step),
      currentStepIndex: c.current_step_index,
      steps: StepRecord.values(c.steps, count: c.n_steps),
      artifacts: Artifact.values(c.artifacts, count: c.n_artifacts),
      cost: CostLedger.value(c.cost, default: CostLedger()),
      schemaVersion: c.schema_version,
      createdAtMs: c.created_at_ms,
      updatedAtMs: c.updated_at_ms,
      expiresAtMs: c.expires_at_ms,
      resumes: c.resumes,
      error: swiftString(c.error),
      historyMessages: c.history_messages,
      history: HistoryMessage.values(c.history, count: c.n_history),
      approval: Approval.value(c.approval, default: Approval())
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__RunState {
    var c = Resumable__V1__RunState()
    resumable__v1__run_state__init(&c)
    c.workflow_id = arena.cString(workflowID)
    c.workflow = arena.cString(workflow)
    c.status = Resumable__V1__RunStatus(rawValue: enumRawValue(status.rawValue))
    c.current_step = arena.cString(currentStep)
    c.current_step_index = currentStepIndex
    c.n_steps = steps.count
    c.steps = StepRecord.cMessagePointers(steps, in: &arena)
    c.n_artifacts = artifacts.count
    c.artifacts = Artifact.cMessagePointers(artifacts, in: &arena)
    c.cost = CostLedger.cMessageField(cost, default: CostLedger(), in: &arena)
    c.schema_version = schemaVersion
    c.created_at_ms = createdAtMs
    c.updated_at_ms = updatedAtMs
    c.expires_at_ms = expiresAtMs
    c.resumes = resumes
    c.error = arena.cString(error)
    c.history_messages = historyMessages
    c.n_history = history.count
    c.history = HistoryMessage.cMessagePointers(history, in: &arena)
    c.approval = Approval.cMessageField(approval, default: Approval(), in: &arena)
    return c
  }
}

// MARK: - Requests and responses

extension StartWorkflowRequest: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__StartWorkflowRequest> {
    ProtobufCFunctions(
      descriptor: resumable__v1__start_workflow_request__descriptor,
      packedSize: resumable__v1__start_workflow_request__get_packed_size,
      pack: resumable__v1__start_workflow_request__pack,
      unpack: resumable__v1__start_workflow_request__unpack,
      freeUnpacked: resumable__v1__start_workflow_request__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__StartWorkflowRequest) {
    self.init(
      workflow: swiftString(c.workflow),
      workflowID: swiftString(c.workflow_id),
      inputJSON: swiftString(c.input_json),
      noWait: c.no_wait != 0,
      onConflict: ConflictPolicy(rawValue: enumNumber(c.on_conflict.rawValue)) ?? .fail
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__StartWorkflowRequest {
    var c = Resumable__V1__StartWorkflowRequest()
    resumable__v1__start_workflow_request__init(&c)
    c.workflow = arena.cString(workflow)
    c.workflow_id = arena.cString(workflowID)
    c.input_json = arena.cString(inputJSON)
    c.no_wait = noWait ? 1 : 0
    c.on_conflict = Resumable__V1__ConflictPolicy(rawValue: enumRawValue(onConflict.rawValue))
    return c
  }
}

extension StartWorkflowResponse: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__StartWorkflowResponse> {
    ProtobufCFunctions(
      descriptor: resumable__v1__start_workflow_response__descriptor,
      packedSize: resumable__v1__start_workflow_response__get_packed_size,
      pack: resumable__v1__start_workflow_response__pack,
      unpack: resumable__v1__start_workflow_response__unpack,
      freeUnpacked: resumable__v1__start_workflow_response__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__StartWorkflowResponse) {
    self.init(state: RunState.value(c.state, default: RunState()), created: c.created != 0)
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__StartWorkflowResponse {
    var c = Resumable__V1__StartWorkflowResponse()
    resumable__v1__start_workflow_response__init(&c)
    c.state = RunState.cMessageField(state, default: RunState(), in: &arena)
    c.created = created ? 1 : 0
    return c
  }
}

extension ResumeWorkflowRequest: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__ResumeWorkflowRequest> {
    ProtobufCFunctions(
      descriptor: resumable__v1__resume_workflow_request__descriptor,
      packedSize: resumable__v1__resume_workflow_request__get_packed_size,
      pack: resumable__v1__resume_workflow_request__pack,
      unpack: resumable__v1__resume_workflow_request__unpack,
      freeUnpacked: resumable__v1__resume_workflow_request__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__ResumeWorkflowRequest) {
    self.init(workflowID: swiftString(c.workflow_id), noWait: c.no_wait != 0, fromStep: swiftString(c.from_step))
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__ResumeWorkflowRequest {
    var c = Resumable__V1__ResumeWorkflowRequest()
    resumable__v1__resume_workflow_request__init(&c)
    c.workflow_id = arena.cString(workflowID)
    c.no_wait = noWait ? 1 : 0
    c.from_step = arena.cString(fromStep)
    return c
  }
}

extension ResumeWorkflowResponse: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__ResumeWorkflowResponse> {
    ProtobufCFunctions(
      descriptor: resumable__v1__resume_workflow_response__descriptor,
      packedSize: resumable__v1__resume_workflow_response__get_packed_size,
      pack: resumable__v1__resume_workflow_response__pack,
      unpack: resumable__v1__resume_workflow_response__unpack,
      freeUnpacked: resumable__v1__resume_workflow_response__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__ResumeWorkflowResponse) {
    self.init(state: RunState.value(c.state, default: RunState()))
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__ResumeWorkflowResponse {
    var c = Resumable__V1__ResumeWorkflowResponse()
    resumable__v1__resume_workflow_response__init(&c)
    c.state = RunState.cMessageField(state, default: RunState(), in: &arena)
    return c
  }
}

extension GetStateRequest: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__GetStateRequest> {
    ProtobufCFunctions(
      descriptor: resumable__v1__get_state_request__descriptor,
      packedSize: resumable__v1__get_state_request__get_packed_size,
      pack: resumable__v1__get_state_request__pack,
      unpack: resumable__v1__get_state_request__unpack,
      freeUnpacked: resumable__v1__get_state_request__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__GetStateRequest) {
    self.init(
      workflowID: swiftString(c.workflow_id), includeArtifacts: c.include_artifacts != 0,
      includeHistory: c.include_history != 0)
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__GetStateRequest {
    var c = Resumable__V1__GetStateRequest()
    resumable__v1__get_state_request__init(&c)
    c.workflow_id = arena.cString(workflowID)
    c.include_artifacts = includeArtifacts ? 1 : 0
    c.include_history = includeHistory ? 1 : 0
    return c
  }
}

extension GetStateResponse: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__GetStateResponse> {
    ProtobufCFunctions(
      descriptor: resumable__v1__get_state_response__descriptor,
      packedSize: resumable__v1__get_state_response__get_packed_size,
      pack: resumable__v1__get_state_response__pack,
      unpack: resumable__v1__get_state_response__unpack,
      freeUnpacked: resumable__v1__get_state_response__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__GetStateResponse) {
    self.init(state: RunState.value(c.state, default: RunState()))
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__GetStateResponse {
    var c = Resumable__V1__GetStateResponse()
    resumable__v1__get_state_response__init(&c)
    c.state = RunState.cMessageField(state, default: RunState(), in: &arena)
    return c
  }
}
