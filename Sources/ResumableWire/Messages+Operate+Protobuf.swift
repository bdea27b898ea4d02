// Messages+Operate.swift <-> protobuf-c, with the rules of Messages+Protobuf.swift.

internal import CResumableProto

// MARK: - WireMessage

extension Approval: WireMessage {
  /// Decodes a `resumable.v1.Approval`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension ListWorkflowsRequest: WireMessage {
  /// Decodes a `resumable.v1.ListWorkflowsRequest`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension RunSummary: WireMessage {
  /// Decodes a `resumable.v1.RunSummary`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension ListWorkflowsResponse: WireMessage {
  /// Decodes a `resumable.v1.ListWorkflowsResponse`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension CancelWorkflowRequest: WireMessage {
  /// Decodes a `resumable.v1.CancelWorkflowRequest`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension CancelWorkflowResponse: WireMessage {
  /// Decodes a `resumable.v1.CancelWorkflowResponse`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension ApproveStepRequest: WireMessage {
  /// Decodes a `resumable.v1.ApproveStepRequest`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension ApproveStepResponse: WireMessage {
  /// Decodes a `resumable.v1.ApproveStepResponse`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension WatchWorkflowRequest: WireMessage {
  /// Decodes a `resumable.v1.WatchWorkflowRequest`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension RunEvent: WireMessage {
  /// Decodes a `resumable.v1.RunEvent`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension WatchWorkflowResponse: WireMessage {
  /// Decodes a `resumable.v1.WatchWorkflowResponse`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension HealthRequest: WireMessage {
  /// Decodes a `resumable.v1.HealthRequest`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension HealthResponse: WireMessage {
  /// Decodes a `resumable.v1.HealthResponse`.
  /// - Throws: `WireError` when the bytes are not a valid encoding of it.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) { try self.init(unpacking: bytes) }
  /// Encodes the message as protobuf bytes.
  public func protobufBytes() -> [UInt8] { packed() }
}

// MARK: - Conversions

extension Approval: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__Approval> {
    ProtobufCFunctions(
      descriptor: resumable__v1__approval__descriptor,
      packedSize: resumable__v1__approval__get_packed_size,
      pack: resumable__v1__approval__pack,
      unpack: resumable__v1__approval__unpack,
      freeUnpacked: resumable__v1__approval__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__Approval) {
    self.init(
      step: swiftString(c.step),
      token: swiftString(c.token),
      kind: swiftString(c.kind),
      confidence: c.confidence,
      threshold: c.threshold,
      requestedAtMs: c.requested_at_ms,
      deadlineMs: c.deadline_ms
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__Approval {
    var c = Resumable__V1__Approval()
    resumable__v1__approval__init(&c)
    c.step = arena.cString(step)
    c.token = arena.cString(token)
    c.kind = arena.cString(kind)
    c.confidence = confidence
    c.threshold = threshold
    c.requested_at_ms = requestedAtMs
    c.deadline_ms = deadlineMs
    return c
  }
}

extension ListWorkflowsRequest: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__ListWorkflowsRequest> {
    ProtobufCFunctions(
      descriptor: resumable__v1__list_workflows_request__descriptor,
      packedSize: resumable__v1__list_workflows_request__get_packed_size,
      pack: resumable__v1__list_workflows_request__pack,
      unpack: resumable__v1__list_workflows_request__unpack,
      freeUnpacked: resumable__v1__list_workflows_request__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__ListWorkflowsRequest) {
    self.init(
      status: RunStatus(rawValue: enumNumber(c.status.rawValue)) ?? .unspecified,
      workflow: swiftString(c.workflow),
      pageSize: c.page_size,
      cursor: swiftString(c.cursor)
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__ListWorkflowsRequest {
    var c = Resumable__V1__ListWorkflowsRequest()
    resumable__v1__list_workflows_request__init(&c)
    c.status = Resumable__V1__RunStatus(rawValue: enumRawValue(status.rawValue))
    c.workflow = arena.cString(workflow)
    c.page_size = pageSize
    c.cursor = arena.cString(cursor)
    return c
  }
}

extension RunSummary: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__RunSummary> {
    ProtobufCFunctions(
      descriptor: resumable__v1__run_summary__descriptor,
      packedSize: resumable__v1__run_summary__get_packed_size,
      pack: resumable__v1__run_summary__pack,
      unpack: resumable__v1__run_summary__unpack,
      freeUnpacked: resumable__v1__run_summary__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__RunSummary) {
    self.init(
      workflowID: swiftString(c.workflow_id),
      workflow: swiftString(c.workflow),
      status: RunStatus(rawValue: enumNumber(c.status.rawValue)) ?? .unspecified,
      currentStep: swiftString(c.current_step),
      currentStepIndex: c.current_step_index,
      stepCount: c.step_count,
      createdAtMs: c.created_at_ms,
      updatedAtMs: c.updated_at_ms,
      cost: CostLedger.value(c.cost, default: CostLedger()),
      error: swiftString(c.error)
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__RunSummary {
    var c = Resumable__V1__RunSummary()
    resumable__v1__run_summary__init(&c)
    c.workflow_id = arena.cString(workflowID)
    c.workflow = arena.cString(workflow)
    c.status = Resumable__V1__RunStatus(rawValue: enumRawValue(status.rawValue))
    c.current_step = arena.cString(currentStep)
    c.current_step_index = currentStepIndex
    c.step_count = stepCount
    c.created_at_ms = createdAtMs
    c.updated_at_ms = updatedAtMs
    c.cost = CostLedger.cMessageField(cost, default: CostLedger(), in: &arena)
    c.error = arena.cString(error)
    return c
  }
}

extension ListWorkflowsResponse: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__ListWorkflowsResponse> {
    ProtobufCFunctions(
      descriptor: resumable__v1__list_workflows_response__descriptor,
      packedSize: resumable__v1__list_workflows_response__get_packed_size,
      pack: resumable__v1__list_workflows_response__pack,
      unpack: resumable__v1__list_workflows_response__unpack,
      freeUnpacked: resumable__v1__list_workflows_response__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__ListWorkflowsResponse) {
    self.init(
      runs: RunSummary.values(c.runs, count: c.n_runs),
      nextCursor: swiftString(c.next_cursor)
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__ListWorkflowsResponse {
    var c = Resumable__V1__ListWorkflowsResponse()
    resumable__v1__list_workflows_response__init(&c)
    c.n_runs = runs.count
    c.runs = RunSummary.cMessagePointers(runs, in: &arena)
    c.next_cursor = arena.cString(nextCursor)
    return c
  }
}

extension CancelWorkflowRequest: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__CancelWorkflowRequest> {
    ProtobufCFunctions(
      descriptor: resumable__v1__cancel_workflow_request__descriptor,
      packedSize: resumable__v1__cancel_workflow_request__get_packed_size,
      pack: resumable__v1__cancel_workflow_request__pack,
      unpack: resumable__v1__cancel_workflow_request__unpack,
      freeUnpacked: resumable__v1__cancel_workflow_request__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__CancelWorkflowRequest) {
    self.init(
      workflowID: swiftString(c.workflow_id),
      reason: swiftString(c.reason)
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__CancelWorkflowRequest {
    var c = Resumable__V1__CancelWorkflowRequest()
    resumable__v1__cancel_workflow_request__init(&c)
    c.workflow_id = arena.cString(workflowID)
    c.reason = arena.cString(reason)
    return c
  }
}

extension CancelWorkflowResponse: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__CancelWorkflowResponse> {
    ProtobufCFunctions(
      descriptor: resumable__v1__cancel_workflow_response__descriptor,
      packedSize: resumable__v1__cancel_workflow_response__get_packed_size,
      pack: resumable__v1__cancel_workflow_response__pack,
      unpack: resumable__v1__cancel_workflow_response__unpack,
      freeUnpacked: resumable__v1__cancel_workflow_response__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__CancelWorkflowResponse) {
    self.init(
      state: RunState.value(c.state, default: RunState())
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__CancelWorkflowResponse {
    var c = Resumable__V1__CancelWorkflowResponse()
    resumable__v1__cancel_workflow_response__init(&c)
    c.state = RunState.cMessageField(state, default: RunState(), in: &arena)
    return c
  }
}

extension ApproveStepRequest: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__ApproveStepRequest> {
    ProtobufCFunctions(
      descriptor: resumable__v1__approve_step_request__descriptor,
      packedSize: resumable__v1__approve_step_request__get_packed_size,
      pack: resumable__v1__approve_step_request__pack,
      unpack: resumable__v1__approve_step_request__unpack,
      freeUnpacked: resumable__v1__approve_step_request__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__ApproveStepRequest) {
    self.init(
      workflowID: swiftString(c.workflow_id),
      token: swiftString(c.token),
      reject: c.reject != 0,
      note: swiftString(c.note),
      noWait: c.no_wait != 0
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__ApproveStepRequest {
    var c = Resumable__V1__ApproveStepRequest()
    resumable__v1__approve_step_request__init(&c)
    c.workflow_id = arena.cString(workflowID)
    c.token = arena.cString(token)
    c.reject = reject ? 1 : 0
    c.note = arena.cString(note)
    c.no_wait = noWait ? 1 : 0
    return c
  }
}

extension ApproveStepResponse: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__ApproveStepResponse> {
    ProtobufCFunctions(
      descriptor: resumable__v1__approve_step_response__descriptor,
      packedSize: resumable__v1__approve_step_response__get_packed_size,
      pack: resumable__v1__approve_step_response__pack,
      unpack: resumable__v1__approve_step_response__unpack,
      freeUnpacked: resumable__v1__approve_step_response__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__ApproveStepResponse) {
    self.init(
      state: RunState.value(c.state, default: RunState())
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__ApproveStepResponse {
    var c = Resumable__V1__ApproveStepResponse()
    resumable__v1__approve_step_response__init(&c)
    c.state = RunState.cMessageField(state, default: RunState(), in: &arena)
    return c
  }
}

extension WatchWorkflowRequest: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__WatchWorkflowRequest> {
    ProtobufCFunctions(
      descriptor: resumable__v1__watch_workflow_request__descriptor,
      packedSize: resumable__v1__watch_workflow_request__get_packed_size,
      pack: resumable__v1__watch_workflow_request__pack,
      unpack: resumable__v1__watch_workflow_request__unpack,
      freeUnpacked: resumable__v1__watch_workflow_request__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__WatchWorkflowRequest) {
    self.init(
      workflowID: swiftString(c.workflow_id)
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__WatchWorkflowRequest {
    var c = Resumable__V1__WatchWorkflowRequest()
    resumable__v1__watch_workflow_request__init(&c)
    c.workflow_id = arena.cString(workflowID)
    return c
  }
}

extension RunEvent: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__RunEvent> {
    ProtobufCFunctions(
      descriptor: resumable__v1__run_event__descriptor,
      packedSize: resumable__v1__run_event__get_packed_size,
      pack: resumable__v1__run_event__pack,
      unpack: resumable__v1__run_event__unpack,
      freeUnpacked: resumable__v1__run_event__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__RunEvent) {
    self.init(
      type: swiftString(c.type),
      step: swiftString(c.step),
      attempt: c.attempt,
      atMs: c.at_ms,
      message: swiftString(c.message),
      nextAttemptAtMs: c.next_attempt_at_ms,
      status: RunStatus(rawValue: enumNumber(c.status.rawValue)) ?? .unspecified
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__RunEvent {
    var c = Resumable__V1__RunEvent()
    resumable__v1__run_event__init(&c)
    c.type = arena.cString(type)
    c.step = arena.cString(step)
    c.attempt = attempt
    c.at_ms = atMs
    c.message = arena.cString(message)
    c.next_attempt_at_ms = nextAttemptAtMs
    c.status = Resumable__V1__RunStatus(rawValue: enumRawValue(status.rawValue))
    return c
  }
}

extension WatchWorkflowResponse: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__WatchWorkflowResponse> {
    ProtobufCFunctions(
      descriptor: resumable__v1__watch_workflow_response__descriptor,
      packedSize: resumable__v1__watch_workflow_response__get_packed_size,
      pack: resumable__v1__watch_workflow_response__pack,
      unpack: resumable__v1__watch_workflow_response__unpack,
      freeUnpacked: resumable__v1__watch_workflow_response__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__WatchWorkflowResponse) {
    self.init(
      state: RunState.value(c.state, default: RunState()),
      event: RunEvent.value(c.event, default: RunEvent())
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__WatchWorkflowResponse {
    var c = Resumable__V1__WatchWorkflowResponse()
    resumable__v1__watch_workflow_response__init(&c)
    c.state = RunState.cMessageField(state, default: RunState(), in: &arena)
    c.event = RunEvent.cMessageField(event, default: RunEvent(), in: &arena)
    return c
  }
}

extension HealthRequest: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__HealthRequest> {
    ProtobufCFunctions(
      descriptor: resumable__v1__health_request__descriptor,
      packedSize: resumable__v1__health_request__get_packed_size,
      pack: resumable__v1__health_request__pack,
      unpack: resumable__v1__health_request__unpack,
      freeUnpacked: resumable__v1__health_request__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__HealthRequest) {
    self.init()
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__HealthRequest {
    var c = Resumable__V1__HealthRequest()
    resumable__v1__health_request__init(&c)
    return c
  }
}

extension HealthResponse: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__HealthResponse> {
    ProtobufCFunctions(
      descriptor: resumable__v1__health_response__descriptor,
      packedSize: resumable__v1__health_response__get_packed_size,
      pack: resumable__v1__health_response__pack,
      unpack: resumable__v1__health_response__unpack,
      freeUnpacked: resumable__v1__health_response__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__HealthResponse) {
    self.init(
      status: swiftString(c.status),
      version: swiftString(c.version),
      redisReachable: c.redis_reachable != 0,
      redisLatencyUs: c.redis_latency_us,
      redisError: swiftString(c.redis_error),
      runsInFlight: c.runs_in_flight,
      uptimeMs: c.uptime_ms
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__HealthResponse {
    var c = Resumable__V1__HealthResponse()
    resumable__v1__health_response__init(&c)
    c.status = arena.cString(status)
    c.version = arena.cString(version)
    c.redis_reachable = redisReachable ? 1 : 0
    c.redis_latency_us = redisLatencyUs
    c.redis_error = arena.cString(redisError)
    c.runs_in_flight = runsInFlight
    c.uptime_ms = uptimeMs
    return c
  }
}
