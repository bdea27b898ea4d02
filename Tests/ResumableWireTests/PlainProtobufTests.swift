import ResumableWire
import Testing

/// The bytes are plain protobuf: checked against encodings written by hand
/// from the spec, not produced by protobuf-c.
@Suite("The wire format is plain protobuf")
struct PlainProtobufTests {
  /// `Envelope{request_id: 300, method: "GetState", payload: 00 01 02,
  /// status_code: NOT_FOUND, status_message: "no run", timeout_ms: 1500,
  /// end_of_stream: true}`, field by field.
  static let handEncodedEnvelope: [UInt8] =
    [0x08, 0xAC, 0x02]  // 1: varint 300
    + [0x12, 0x08] + Array("GetState".utf8)  // 2: length-delimited, 8 bytes
    + [0x1A, 0x03, 0x00, 0x01, 0x02]  // 3: length-delimited, 3 bytes
    + [0x20, 0x05]  // 4: varint 5
    + [0x2A, 0x06] + Array("no run".utf8)  // 5: length-delimited, 6 bytes
    + [0x30, 0xDC, 0x0B]  // 6: varint 1500
    + [0x38, 0x01]  // 7: varint 1

  static let envelope = Envelope(
    requestID: 300, method: "GetState", payload: [0, 1, 2], statusCode: .notFound,
    statusMessage: "no run", timeoutMilliseconds: 1500, endOfStream: true)

  @Test func handEncodedEnvelopeDecodes() throws {
    #expect(try Envelope(protobufBytes: Self.handEncodedEnvelope) == Self.envelope)
  }

  @Test func envelopeEncodesToTheSameBytes() {
    #expect(Self.envelope.protobufBytes() == Self.handEncodedEnvelope)
  }

  @Test func fieldOrderDoesNotMatter() throws {
    var writer = ProtobufWriter()
    writer.varintField(7, 1)
    writer.varintField(6, 1500)
    writer.stringField(5, "no run")
    writer.varintField(4, 5)
    writer.bytesField(3, [0, 1, 2])
    writer.stringField(2, "GetState")
    writer.varintField(1, 300)
    #expect(try Envelope(protobufBytes: writer.bytes) == Self.envelope)
  }

  @Test func lastValueOfARepeatedScalarWins() throws {
    var writer = ProtobufWriter()
    writer.varintField(1, 1)
    writer.stringField(2, "StartWorkflow")
    writer.varintField(1, 2)
    writer.stringField(2, "GetState")
    #expect(try Envelope(protobufBytes: writer.bytes) == Envelope(requestID: 2, method: "GetState"))
  }

  @Test func unknownFieldsAreSkipped() throws {
    var writer = ProtobufWriter()
    writer.raw(Self.handEncodedEnvelope)
    writer.varintField(100, 12345)
    writer.bytesField(99, [0xFF, 0x00, 0xFE])  // unknown, so not checked as text
    writer.key(98, 1)  // fixed64
    writer.raw([1, 2, 3, 4, 5, 6, 7, 8])
    writer.key(97, 5)  // fixed32
    writer.raw([1, 2, 3, 4])
    #expect(try Envelope(protobufBytes: writer.bytes) == Self.envelope)
  }

  @Test func nestedAndRepeatedMessagesDecode() throws {
    var writer = ProtobufWriter()
    writer.messageField(1) { state in  // GetStateResponse.state
      state.stringField(1, "wf-1")  // workflow_id
      state.varintField(3, 3)  // status FAILED
      state.messageField(6) { step in  // steps[0]
        step.stringField(1, "a")
        step.varintField(3, 4)  // FAILED
        step.messageField(5) { usage in usage.signedField(3, -5) }  // usage.cost_micros
      }
      state.messageField(6) { step in step.stringField(1, "b") }  // steps[1]
      state.messageField(7) { artifact in  // artifacts[0]
        artifact.stringField(1, "a")
        artifact.bytesField(2, [0, 0])
      }
      state.messageField(8) { cost in  // cost
        cost.signedField(1, -1)
        cost.varintField(3, 10)
      }
      state.stringField(14, "boom")  // error
    }
    let expected = GetStateResponse(
      state: RunState(
        workflowID: "wf-1", status: .failed,
        steps: [
          StepRecord(name: "a", status: .failed, usage: Usage(costMicros: -5)),
          StepRecord(name: "b"),
        ],
        artifacts: [Artifact(step: "a", data: [0, 0])],
        cost: CostLedger(spentMicros: -1, inputTokens: 10), error: "boom"))
    #expect(try GetStateResponse(protobufBytes: writer.bytes) == expected)
  }

  @Test func negativeInt64TakesTenBytes() {
    var writer = ProtobufWriter()
    writer.signedField(3, -1)
    #expect(writer.bytes == [0x18] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
    #expect(Usage(costMicros: -1).protobufBytes() == writer.bytes)
  }
}
