import NIOCore
import NIOEmbedded
import NIOTestUtils
import ResumableTestSupport
import ResumableWire
import Testing

/// A frame: the 4-byte big-endian length, then the body.
private func frame(_ body: [UInt8]) -> ByteBuffer {
  var buffer = ByteBuffer()
  buffer.writeInteger(UInt32(body.count))
  buffer.writeBytes(body)
  return buffer
}

/// A channel that decodes frames.
private func decoderChannel(
  maximumFrameBytes: Int = FrameDecoder.defaultMaximumFrameBytes
) -> EmbeddedChannel {
  EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maximumFrameBytes: maximumFrameBytes)))
}

@Suite("FrameDecoder")
struct FrameDecoderTests {
  @Test func verifier() throws {
    var random = SplitMix64(seed: 7)
    let bodies: [[UInt8]] = [
      [], [0x61], Samples.envelope.protobufBytes(),
      (0..<300).map { _ in UInt8.random(in: 0...255, using: &random) },
    ]
    var pairs = bodies.map { (frame($0), [ByteBuffer(bytes: $0)]) }
    // Two frames in one input.
    var two = frame([1, 2, 3])
    two.writeImmutableBuffer(frame([4]))
    pairs.append((two, [ByteBuffer(bytes: [1, 2, 3]), ByteBuffer(bytes: [4])]))
    try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder() }
  }

  @Test func defaultLimitIsFourMiB() {
    #expect(FrameDecoder.defaultMaximumFrameBytes == 4_194_304)
    #expect(FrameDecoder().maximumFrameBytes == 4_194_304)
  }

  /// A 2 GiB announcement is refused when its 4-byte prefix has arrived, not
  /// after buffering: nothing of the body was ever sent.
  @Test func oversizedPrefixIsRefusedAfterFourBytes() throws {
    let channel = decoderChannel()
    defer { _ = try? channel.finish() }
    for byte: UInt8 in [0x80, 0x00, 0x00] {
      try channel.writeInbound(ByteBuffer(bytes: [byte]))
    }
    let error = try #require(throws: FrameTooLargeError.self) {
      try channel.writeInbound(ByteBuffer(bytes: [0x00]))
    }
    #expect(error == FrameTooLargeError(frameBytes: 1 << 31, maximumFrameBytes: 4_194_304))
    #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
  }

  @Test func frameAtTheLimitIsAccepted() throws {
    let channel = decoderChannel()
    defer { _ = try? channel.finish() }
    let body = [UInt8](repeating: 0xAB, count: FrameDecoder.defaultMaximumFrameBytes)
    try channel.writeInbound(frame(body))
    #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(bytes: body))
  }

  @Test func frameOneByteOverTheLimitIsRefused() throws {
    let channel = decoderChannel(maximumFrameBytes: 100)
    defer { _ = try? channel.finish() }
    #expect(throws: FrameTooLargeError(frameBytes: 101, maximumFrameBytes: 100)) {
      try channel.writeInbound(frame([UInt8](repeating: 0, count: 101)))
    }
    #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
  }

  @Test func customLimitAcceptsUpToItself() throws {
    let channel = decoderChannel(maximumFrameBytes: 100)
    defer { _ = try? channel.finish() }
    try channel.writeInbound(frame([UInt8](repeating: 1, count: 100)))
    #expect(try channel.readInbound(as: ByteBuffer.self)?.readableBytes == 100)
  }

  @Test func zeroLimitAcceptsOnlyEmptyFrames() throws {
    let channel = decoderChannel(maximumFrameBytes: 0)
    defer { _ = try? channel.finish() }
    try channel.writeInbound(frame([]))
    #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer())
    #expect(throws: FrameTooLargeError.self) { try channel.writeInbound(frame([0])) }
  }

  @Test func coalescedFramesDecodeInOrder() throws {
    let channel = decoderChannel()
    defer { _ = try? channel.finish() }
    let envelopes = (1...5).map { Envelope(requestID: UInt64($0), method: "GetState") }
    var input = ByteBuffer()
    for envelope in envelopes { input.writeImmutableBuffer(frame(envelope.protobufBytes())) }
    input.writeImmutableBuffer(frame([]))
    try channel.writeInbound(input)
    for envelope in envelopes {
      let body = try #require(try channel.readInbound(as: ByteBuffer.self))
      #expect(try Envelope(frameBody: body) == envelope)
    }
    #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer())
    #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
  }

  @Test func zeroLengthFrameIsAnEnvelopeWithDefaults() throws {
    let channel = decoderChannel()
    defer { _ = try? channel.finish() }
    try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 0]))
    let body = try #require(try channel.readInbound(as: ByteBuffer.self))
    #expect(body.readableBytes == 0)
    #expect(try Envelope(frameBody: body) == Envelope())
  }

  @Test func endOfInputInsideABodyIsReported() throws {
    let channel = decoderChannel()
    defer { _ = try? channel.finish() }
    var input = frame([9, 9])
    input.writeImmutableBuffer(frame([1, 2, 3, 4, 5]).getSlice(at: 0, length: 7)!)
    try channel.writeInbound(input)
    #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(bytes: [9, 9]))
    channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
    let error = try #require(throws: TruncatedFrameError.self) { try channel.throwIfErrorCaught() }
    #expect(error == TruncatedFrameError(frameBytes: 5, receivedBytes: 7))
    #expect(error.description == "stream ended inside a frame: received 3 of its 5 body bytes")
    #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
  }

  @Test func endOfInputInsideAPrefixIsReported() throws {
    let channel = decoderChannel()
    defer { _ = try? channel.finish() }
    try channel.writeInbound(ByteBuffer(bytes: [0, 0]))
    channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
    let error = try #require(throws: TruncatedFrameError.self) { try channel.throwIfErrorCaught() }
    #expect(error == TruncatedFrameError(frameBytes: nil, receivedBytes: 2))
  }

  @Test func endOfInputBetweenFramesIsClean() throws {
    let channel = decoderChannel()
    defer { _ = try? channel.finish() }
    try channel.writeInbound(frame([1]))
    channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
    try channel.throwIfErrorCaught()
    #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(bytes: [1]))
  }

  @Test func tooLargeDescriptionSaysWhatToDo() {
    let error = FrameTooLargeError(frameBytes: 9_000_000, maximumFrameBytes: 4_194_304)
    #expect(
      error.description
        == "frame of 9000000 bytes exceeds the limit of 4194304 bytes")
  }
}

@Suite("FrameEncoder")
struct FrameEncoderTests {
  private func encoded(_ body: ByteBuffer) throws -> ByteBuffer? {
    let channel = EmbeddedChannel(handler: MessageToByteHandler(FrameEncoder()))
    defer { _ = try? channel.finish() }
    try channel.writeOutbound(body)
    return try channel.readOutbound(as: ByteBuffer.self)
  }

  @Test func writesABigEndianPrefix() throws {
    #expect(try encoded(ByteBuffer(bytes: [7, 8, 9])) == ByteBuffer(bytes: [0, 0, 0, 3, 7, 8, 9]))
    let long = [UInt8](repeating: 1, count: 0x0102_03)
    #expect(try encoded(ByteBuffer(bytes: long)) == ByteBuffer(bytes: [0, 1, 2, 3] + long))
  }

  @Test func emptyBodyIsAFourByteFrame() throws {
    #expect(try encoded(ByteBuffer()) == ByteBuffer(bytes: [0, 0, 0, 0]))
  }

  @Test func encoderOutputDecodes() throws {
    let encoder = EmbeddedChannel(handler: MessageToByteHandler(FrameEncoder()))
    let decoder = decoderChannel()
    defer {
      _ = try? encoder.finish()
      _ = try? decoder.finish()
    }
    let envelopes = [Samples.envelope, Envelope(), PlainProtobufTests.envelope]
    for envelope in envelopes {
      try encoder.writeOutbound(envelope.frameBody(allocator: encoder.allocator))
      let framed = try #require(try encoder.readOutbound(as: ByteBuffer.self))
      try decoder.writeInbound(framed)
    }
    for envelope in envelopes {
      let body = try #require(try decoder.readInbound(as: ByteBuffer.self))
      #expect(try Envelope(frameBody: body) == envelope)
    }
  }

  @Test func frameBodyIsTheProtobufEncoding() throws {
    let body = Samples.envelope.frameBody(allocator: ByteBufferAllocator())
    #expect(Array(body.readableBytesView) == Samples.envelope.protobufBytes())
    #expect(throws: WireError.self) { try Envelope(frameBody: ByteBuffer(bytes: [0xFF])) }
  }
}
