import Testing
import ResumableWire

/// Protobuf encoding written by hand from the spec
/// (protobuf.dev/programming-guides/encoding), independent of protobuf-c: the
/// tests use it to check that the wire format is plain protobuf.
struct ProtobufWriter {
  static let varintType: UInt64 = 0
  static let lengthDelimitedType: UInt64 = 2

  private(set) var bytes: [UInt8] = []

  /// A base-128 varint, least significant group first.
  mutating func varint(_ value: UInt64) {
    var value = value
    while value >= 0x80 {
      bytes.append(UInt8(value & 0x7F) | 0x80)
      value >>= 7
    }
    bytes.append(UInt8(value))
  }

  /// A field key: `(number << 3) | wireType`.
  mutating func key(_ number: UInt64, _ wireType: UInt64) {
    varint(number << 3 | wireType)
  }

  /// Bytes as they are.
  mutating func raw(_ raw: [UInt8]) {
    bytes += raw
  }

  /// A varint field: uint64, uint32, bool, enum.
  mutating func varintField(_ number: UInt64, _ value: UInt64) {
    key(number, Self.varintType)
    varint(value)
  }

  /// An int64 field, or a negative enum: two's complement, 10 bytes when negative.
  mutating func signedField(_ number: UInt64, _ value: Int64) {
    varintField(number, UInt64(bitPattern: value))
  }

  /// A length-delimited field: string, bytes, nested message.
  mutating func bytesField(_ number: UInt64, _ body: [UInt8]) {
    key(number, Self.lengthDelimitedType)
    varint(UInt64(body.count))
    bytes += body
  }

  /// A string field, UTF-8.
  mutating func stringField(_ number: UInt64, _ text: String) {
    bytesField(number, Array(text.utf8))
  }

  /// A nested message field built by `body`.
  mutating func messageField(_ number: UInt64, _ body: (inout ProtobufWriter) -> Void) {
    var nested = ProtobufWriter()
    body(&nested)
    bytesField(number, nested.bytes)
  }
}

/// Messages with every field away from its default.
enum Samples {
  static let usage = Usage(inputTokens: UInt64.max, outputTokens: 1 << 40, costMicros: Int64.min)

  static let steps = [
    StepRecord(
      name: "fetch", plugin: "http", status: .completed, attempts: UInt32.max, usage: usage,
      lastError: "délai dépassé ⏱ — 再試行", lastErrorRetryable: true, startedAtMs: -1,
      finishedAtMs: 1_700_000_000_123, artifactBytes: UInt64.max, savedMicros: -42),
    StepRecord(
      name: "summarize", plugin: "llm", status: .failed, attempts: 3,
      usage: Usage(inputTokens: 1, outputTokens: 2, costMicros: 3), lastError: "",
      lastErrorRetryable: false, startedAtMs: Int64.max, finishedAtMs: Int64.min,
      artifactBytes: 0, savedMicros: Int64.max),
    StepRecord(name: "", plugin: "", status: .retrying, attempts: 1),
  ]

  static let artifacts = [
    Artifact(step: "fetch", data: [0, 1, 0, 0xFF, 0, 0x80]),
    Artifact(step: "日本語のステップ 🚀", data: []),
    Artifact(step: "", data: [UInt8](repeating: 0, count: 1000)),
  ]

  static let cost = CostLedger(
    spentMicros: -1, savedByResumeMicros: Int64.max, inputTokens: UInt64.max, outputTokens: 7)

  static let runState = RunState(
    workflowID: "wf-2024:01.a_b", workflow: "research", status: .awaitingApproval,
    currentStep: "summarize", currentStepIndex: UInt32.max, steps: steps, artifacts: artifacts,
    cost: cost, schemaVersion: 2, createdAtMs: -1_000, updatedAtMs: Int64.max,
    expiresAtMs: Int64.min, resumes: 4_000_000_000, error: "step summarize: rate limited 🙃")

  static let envelope = Envelope(
    requestID: UInt64.max, method: "StartWorkflow", payload: [0, 0, 1, 0xFF, 0x7F, 0, 0x80],
    statusCode: .failedPrecondition, statusMessage: "workflow “research” is not registered 🤷",
    timeoutMilliseconds: UInt64.max - 1, endOfStream: true)

  static let startRequest = StartWorkflowRequest(
    workflow: "research", workflowID: "ünïcødé-id", inputJSON: #"{"q":"ça va?","n":[1,2,3]}"#,
    noWait: true, onConflict: .useExisting)
}

/// Encodes, decodes, and checks the value came back unchanged, byte for byte.
func expectRoundTrip<Message: WireMessage & Equatable>(
  _ message: Message, sourceLocation: SourceLocation = #_sourceLocation
) throws {
  let bytes = message.protobufBytes()
  let decoded = try Message(protobufBytes: bytes)
  #expect(decoded == message, sourceLocation: sourceLocation)
  #expect(decoded.protobufBytes() == bytes, sourceLocation: sourceLocation)
}
