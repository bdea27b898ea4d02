import ResumableTestSupport
import ResumableWire
import Testing

/// Bytes that are not a valid encoding throw `WireError`, never crash.
@Suite("Decoding hostile bytes")
struct HostileBytesTests {
  /// Encodings protobuf rejects, as `Envelope`.
  static let malformed: [(String, [UInt8])] = [
    ("key varint cut short", [0xFF]),
    ("key without value", [0x08]),
    ("value varint cut short", [0x08, 0x80]),
    ("varint longer than 10 bytes", [0x08] + [UInt8](repeating: 0xFF, count: 10) + [0x01]),
    ("length past the end", [0x12, 0x05, 0x61]),
    ("length of 4 GiB", [0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x61]),
    ("uint64 field sent length-delimited", [0x0A, 0x00]),
    ("string field sent as varint", [0x10, 0x01]),
    ("bytes field sent as fixed32", [0x1D, 0, 0, 0, 0]),
    // protobuf-c itself would read these as `true`: checked after it.
    ("bool field sent as fixed64", [0x39, 1, 0, 0, 0, 0, 0, 0, 0]),
    ("bool field sent as fixed32", [0x3D, 1, 0, 0, 0]),
    ("bool field sent length-delimited", [0x3A, 0x01, 0x01]),
    ("group wire types (deprecated, unsupported)", [0x0B, 0x0C]),
    ("unknown field in a group", [0xA3, 0x06, 0xA4, 0x06]),
    ("wire type 6", [0x0E, 0x00]),
    ("wire type 7", [0x0F, 0x00]),
    ("fixed64 cut short", [0x09, 0, 0, 0]),
  ]

  @Test(arguments: malformed)
  func malformedEnvelope(_ description: String, _ bytes: [UInt8]) throws {
    let error = try #require(throws: WireError.self) { try Envelope(protobufBytes: bytes) }
    #expect(error.message.contains("resumable.v1.Envelope"), "\(description): \(error)")
  }

  @Test func malformedNestedMessage() throws {
    // StartWorkflowResponse.state sent as a varint.
    let wrongType = try #require(throws: WireError.self) {
      try StartWorkflowResponse(protobufBytes: [0x08, 0x01])
    }
    #expect(wrongType.message.contains("resumable.v1.StartWorkflowResponse"))
    // RunState.steps[0] holding a cut-short key.
    #expect(throws: WireError.self) { try RunState(protobufBytes: [0x32, 0x01, 0xFF]) }
    // GetStateResponse.state.cost holding a string field sent as a varint.
    var writer = ProtobufWriter()
    writer.messageField(1) { state in state.messageField(8) { cost in cost.bytesField(1, [1]) } }
    #expect(throws: WireError.self) { try GetStateResponse(protobufBytes: writer.bytes) }
    // StepRecord.last_error_retryable (bool) sent length-delimited inside a RunState.
    var nested = ProtobufWriter()
    nested.messageField(6) { step in step.bytesField(7, [1]) }
    let error = try #require(throws: WireError.self) { try RunState(protobufBytes: nested.bytes) }
    #expect(error.message.contains("resumable.v1.StepRecord"))
    #expect(error.message.contains("last_error_retryable"))
  }

  @Test func everyCutOfAnEncodingIsRejected() throws {
    let bytes = StartWorkflowResponse(state: Samples.runState, created: true).protobufBytes()
    // The last two bytes are `created`; cutting right before them leaves a valid message.
    #expect(Array(bytes.suffix(2)) == [0x10, 0x01])
    for length in 1..<bytes.count where length != bytes.count - 2 {
      #expect(throws: WireError.self, "cut at \(length) of \(bytes.count)") {
        try StartWorkflowResponse(protobufBytes: Array(bytes.prefix(length)))
      }
    }
    let withoutCreated = try StartWorkflowResponse(protobufBytes: Array(bytes.dropLast(2)))
    #expect(withoutCreated == StartWorkflowResponse(state: Samples.runState, created: false))
  }

  /// Random bytes may happen to be valid protobuf; what matters is no crash,
  /// and that what decodes re-encodes to something that decodes the same.
  @Test func randomBytes() {
    var random = SplitMix64(seed: 0x5EED)
    for _ in 0..<3_000 {
      let bytes = (0..<Int.random(in: 0...48, using: &random)).map { _ in
        UInt8.random(in: 0...255, using: &random)
      }
      expectStable(Envelope.self, bytes)
      expectStable(RunState.self, bytes)
      expectStable(StartWorkflowRequest.self, bytes)
      expectStable(GetStateResponse.self, bytes)
    }
  }

  @Test func mutatedEncodings() {
    var random = SplitMix64(seed: 42)
    let encodings = [
      GetStateResponse(state: Samples.runState).protobufBytes(),
      Samples.envelope.protobufBytes(),
    ]
    for original in encodings {
      for index in original.indices {
        for _ in 0..<3 {
          var bytes = original
          bytes[index] = UInt8.random(in: 0...255, using: &random)
          expectStable(GetStateResponse.self, bytes)
          expectStable(Envelope.self, bytes)
        }
      }
    }
  }

  private func expectStable<Message: WireMessage & Equatable>(
    _ type: Message.Type, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation
  ) {
    guard let decoded = try? Message(protobufBytes: bytes) else { return }
    #expect(
      (try? Message(protobufBytes: decoded.protobufBytes())) == decoded,
      "bytes: \(bytes)", sourceLocation: sourceLocation)
  }
}

/// protobuf-c does not check text; the decoder does, and rejects what is not
/// UTF-8 without NUL.
@Suite("Strings must be UTF-8")
struct StringValidationTests {
  static let invalidText: [(String, [UInt8])] = [
    ("lone 0xFF", [0xFF]),
    ("bad continuation", [0xC3, 0x28]),
    ("cut-short sequence", [0xE2, 0x82]),
    ("surrogate", [0xED, 0xA0, 0x80]),
    ("overlong NUL", [0xC0, 0x80]),
    ("past U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
    ("NUL", [0x61, 0x00, 0x62]),
    ("invalid after a NUL", [0x61, 0x00, 0xFF]),
  ]

  @Test(arguments: invalidText)
  func invalidTextInEnvelope(_ description: String, _ text: [UInt8]) throws {
    var writer = ProtobufWriter()
    writer.varintField(1, 9)
    writer.bytesField(2, text)
    let error = try #require(throws: WireError.self) {
      try Envelope(protobufBytes: writer.bytes)
    }
    #expect(error.message.contains("resumable.v1.Envelope"), "\(description)")
    #expect(error.message.contains("method"), "\(description)")
  }

  @Test func invalidTextDeepInsideAResponse() throws {
    var writer = ProtobufWriter()
    writer.messageField(1) { state in  // StartWorkflowResponse.state
      state.messageField(6) { step in step.stringField(1, "ok") }
      state.messageField(6) { step in step.bytesField(6, [0x6F, 0x6B, 0xFF]) }  // last_error
    }
    let error = try #require(throws: WireError.self) {
      try StartWorkflowResponse(protobufBytes: writer.bytes)
    }
    #expect(error.message.contains("resumable.v1.StepRecord"))
    #expect(error.message.contains("last_error"))
  }

  @Test func validTextAndBinaryBytesAreAccepted() throws {
    var writer = ProtobufWriter()
    writer.stringField(2, "ünïcødé 🚀 日本")
    writer.bytesField(3, [0xFF, 0x00, 0xC0, 0x80])  // payload is bytes, not text
    let envelope = try Envelope(protobufBytes: writer.bytes)
    #expect(envelope.method == "ünïcødé 🚀 日本")
    #expect(envelope.payload == [0xFF, 0x00, 0xC0, 0x80])
  }
}

/// Enum numbers this build does not know.
@Suite("Unknown enum numbers")
struct UnknownEnumTests {
  @Test func statusCodeKeepsItsNumber() throws {
    var writer = ProtobufWriter()
    writer.varintField(4, 42)
    let envelope = try Envelope(protobufBytes: writer.bytes)
    #expect(envelope.statusCode == StatusCode(rawValue: 42))
    #expect(envelope.statusCode.description == "CODE_42")
    #expect(envelope.protobufBytes() == writer.bytes)
  }

  @Test func negativeStatusCodeKeepsItsNumber() throws {
    var writer = ProtobufWriter()
    writer.signedField(4, -1)
    let envelope = try Envelope(protobufBytes: writer.bytes)
    #expect(envelope.statusCode.rawValue == -1)
    #expect(envelope.protobufBytes() == writer.bytes)
  }

  @Test(arguments: [7, 1_000_000, -3] as [Int64])
  func conflictPolicyIsFail(_ number: Int64) throws {
    var writer = ProtobufWriter()
    writer.stringField(1, "research")
    writer.signedField(5, number)
    let request = try StartWorkflowRequest(protobufBytes: writer.bytes)
    #expect(request == StartWorkflowRequest(workflow: "research", onConflict: .fail))
  }

  @Test(arguments: [7, 99, -1] as [Int64])
  func runAndStepStatusAreUnspecified(_ number: Int64) throws {
    var writer = ProtobufWriter()
    writer.signedField(3, number)  // RunState.status
    writer.messageField(6) { step in
      step.stringField(1, "a")
      step.signedField(3, number)  // StepRecord.status
    }
    let state = try RunState(protobufBytes: writer.bytes)
    #expect(state.status == .unspecified)
    #expect(state.steps == [StepRecord(name: "a", status: .unspecified)])
  }
}
