// TEMPORARY STAND-INS — delete this file when the real ResumableWire codec lands
// (`Messages+Protobuf.swift`, `FrameDecoder`, `FrameEncoder`).
//
// Only so that ResumableClient compiles and its fake-server tests can run before then: a minimal
// pure-Swift protobuf encoding of the messages the client uses, and a trivial length-prefixed
// frame codec. Nothing here is meant to survive the merge.

public import NIOCore

// MARK: - Frame codec

public final class FrameDecoder: ByteToMessageDecoder {
  public typealias InboundOut = ByteBuffer
  private let maximumFrameBytes: Int

  public init(maximumFrameBytes: Int = 4_194_304) { self.maximumFrameBytes = maximumFrameBytes }

  public func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws
    -> DecodingState
  {
    guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else {
      return .needMoreData
    }
    guard Int(length) <= maximumFrameBytes else {
      throw WireError("frame of \(length) bytes is over the limit of \(maximumFrameBytes)")
    }
    guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
    buffer.moveReaderIndex(forwardBy: 4)
    context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
    return .continue
  }
}

public final class FrameEncoder: MessageToByteEncoder {
  public typealias OutboundIn = ByteBuffer

  public init() {}

  public func encode(data: ByteBuffer, out: inout ByteBuffer) throws {
    out.writeInteger(UInt32(data.readableBytes))
    out.writeImmutableBuffer(data)
  }
}

// MARK: - Minimal protobuf

private struct StandInWriter {
  var bytes: [UInt8] = []

  mutating func varint(_ value: UInt64) {
    var value = value
    while value >= 0x80 {
      bytes.append(UInt8(value & 0x7F) | 0x80)
      value >>= 7
    }
    bytes.append(UInt8(value))
  }
  mutating func uint(_ field: UInt64, _ value: UInt64) {
    guard value != 0 else { return }
    varint(field << 3)
    varint(value)
  }
  mutating func int(_ field: UInt64, _ value: Int64) { uint(field, UInt64(bitPattern: value)) }
  mutating func bool(_ field: UInt64, _ value: Bool) { uint(field, value ? 1 : 0) }
  mutating func data(_ field: UInt64, _ value: [UInt8], always: Bool = false) {
    guard always || !value.isEmpty else { return }
    varint(field << 3 | 2)
    varint(UInt64(value.count))
    bytes += value
  }
  mutating func string(_ field: UInt64, _ value: String) { data(field, Array(value.utf8)) }
  mutating func message(_ field: UInt64, _ value: some WireMessage) {
    data(field, value.protobufBytes(), always: true)
  }
}

private enum StandInValue {
  case varint(UInt64)
  case bytes([UInt8])

  var uint: UInt64 {
    if case .varint(let v) = self { return v }
    return 0
  }
  var int: Int64 { Int64(bitPattern: uint) }
  var bool: Bool { uint != 0 }
  var data: [UInt8] {
    if case .bytes(let b) = self { return b }
    return []
  }
  var string: String { String(decoding: data, as: UTF8.self) }
}

private func standInFields(_ bytes: [UInt8], _ name: String) throws(WireError) -> [(
  UInt64, StandInValue
)] {
  var fields: [(UInt64, StandInValue)] = []
  var index = 0
  func varint() throws(WireError) -> UInt64 {
    var result: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      guard index < bytes.count, shift < 64 else { throw WireError("invalid \(name)") }
      let byte = bytes[index]
      index += 1
      result |= UInt64(byte & 0x7F) << shift
      if byte & 0x80 == 0 { return result }
      shift += 7
    }
  }
  while index < bytes.count {
    let key = try varint()
    let field = key >> 3
    guard field != 0 else { throw WireError("invalid \(name)") }
    switch key & 7 {
    case 0: fields.append((field, .varint(try varint())))
    case 1, 5:
      index += key & 7 == 1 ? 8 : 4
      guard index <= bytes.count else { throw WireError("invalid \(name)") }
    case 2:
      let length = try varint()
      guard length <= UInt64(bytes.count - index) else { throw WireError("invalid \(name)") }
      fields.append((field, .bytes(Array(bytes[index..<index + Int(length)]))))
      index += Int(length)
    default: throw WireError("invalid \(name)")
    }
  }
  return fields
}

extension Envelope: WireMessage {
  public init(protobufBytes bytes: [UInt8]) throws(WireError) {
    self.init()
    for (field, value) in try standInFields(bytes, "resumable.v1.Envelope") {
      switch field {
      case 1: requestID = value.uint
      case 2: method = value.string
      case 3: payload = value.data
      case 4: statusCode = StatusCode(rawValue: Int(value.uint))
      case 5: statusMessage = value.string
      case 6: timeoutMilliseconds = value.uint
      case 7: endOfStream = value.bool
      default: break
      }
    }
  }
  public func protobufBytes() -> [UInt8] {
    var w = StandInWriter()
    w.uint(1, requestID)
    w.string(2, method)
    w.data(3, payload)
    w.uint(4, UInt64(statusCode.rawValue))
    w.string(5, statusMessage)
    w.uint(6, timeoutMilliseconds)
    w.bool(7, endOfStream)
    return w.bytes
  }
}

extension StartWorkflowRequest: WireMessage {
  public init(protobufBytes bytes: [UInt8]) throws(WireError) {
    self.init()
    for (field, value) in try standInFields(bytes, "resumable.v1.StartWorkflowRequest") {
      switch field {
      case 1: workflow = value.string
      case 2: workflowID = value.string
      case 3: inputJSON = value.string
      case 4: noWait = value.bool
      case 5: onConflict = ConflictPolicy(rawValue: Int(value.uint)) ?? .fail
      default: break
      }
    }
  }
  public func protobufBytes() -> [UInt8] {
    var w = StandInWriter()
    w.string(1, workflow)
    w.string(2, workflowID)
    w.string(3, inputJSON)
    w.bool(4, noWait)
    w.uint(5, UInt64(onConflict.rawValue))
    return w.bytes
  }
}

extension ResumeWorkflowRequest: WireMessage {
  public init(protobufBytes bytes: [UInt8]) throws(WireError) {
    self.init()
    for (field, value) in try standInFields(bytes, "resumable.v1.ResumeWorkflowRequest") {
      switch field {
      case 1: workflowID = value.string
      case 2: noWait = value.bool
      default: break
      }
    }
  }
  public func protobufBytes() -> [UInt8] {
    var w = StandInWriter()
    w.string(1, workflowID)
    w.bool(2, noWait)
    return w.bytes
  }
}

extension GetStateRequest: WireMessage {
  public init(protobufBytes bytes: [UInt8]) throws(WireError) {
    self.init()
    for (field, value) in try standInFields(bytes, "resumable.v1.GetStateRequest") {
      switch field {
      case 1: workflowID = value.string
      case 2: includeArtifacts = value.bool
      default: break
      }
    }
  }
  public func protobufBytes() -> [UInt8] {
    var w = StandInWriter()
    w.string(1, workflowID)
    w.bool(2, includeArtifacts)
    return w.bytes
  }
}

extension StartWorkflowResponse: WireMessage {
  public init(protobufBytes bytes: [UInt8]) throws(WireError) {
    self.init()
    for (field, value) in try standInFields(bytes, "resumable.v1.StartWorkflowResponse") {
      switch field {
      case 1: state = try RunState(protobufBytes: value.data)
      case 2: created = value.bool
      default: break
      }
    }
  }
  public func protobufBytes() -> [UInt8] {
    var w = StandInWriter()
    w.message(1, state)
    w.bool(2, created)
    return w.bytes
  }
}

extension ResumeWorkflowResponse: WireMessage {
  public init(protobufBytes bytes: [UInt8]) throws(WireError) {
    self.init()
    for (field, value) in try standInFields(bytes, "resumable.v1.ResumeWorkflowResponse")
    where field == 1 {
      state = try RunState(protobufBytes: value.data)
    }
  }
  public func protobufBytes() -> [UInt8] {
    var w = StandInWriter()
    w.message(1, state)
    return w.bytes
  }
}

extension GetStateResponse: WireMessage {
  public init(protobufBytes bytes: [UInt8]) throws(WireError) {
    self.init()
    for (field, value) in try standInFields(bytes, "resumable.v1.GetStateResponse")
    where field == 1 {
      state = try RunState(protobufBytes: value.data)
    }
  }
  public func protobufBytes() -> [UInt8] {
    var w = StandInWriter()
    w.message(1, state)
    return w.bytes
  }
}

extension Usage: WireMessage {
  public init(protobufBytes bytes: [UInt8]) throws(WireError) {
    self.init()
    for (field, value) in try standInFields(bytes, "resumable.v1.Usage") {
      switch field {
      case 1: inputTokens = value.uint
      case 2: outputTokens = value.uint
      case 3: costMicros = value.int
      default: break
      }
    }
  }
  public func protobufBytes() -> [UInt8] {
    var w = StandInWriter()
    w.uint(1, inputTokens)
    w.uint(2, outputTokens)
    w.int(3, costMicros)
    return w.bytes
  }
}

extension StepRecord: WireMessage {
  public init(protobufBytes bytes: [UInt8]) throws(WireError) {
    self.init()
    for (field, value) in try standInFields(bytes, "resumable.v1.StepRecord") {
      switch field {
      case 1: name = value.string
      case 2: plugin = value.string
      case 3: status = StepStatus(rawValue: Int(value.uint)) ?? .unspecified
      case 4: attempts = UInt32(truncatingIfNeeded: value.uint)
      case 5: usage = try Usage(protobufBytes: value.data)
      case 6: lastError = value.string
      case 7: lastErrorRetryable = value.bool
      case 8: startedAtMs = value.int
      case 9: finishedAtMs = value.int
      case 10: artifactBytes = value.uint
      case 11: savedMicros = value.int
      default: break
      }
    }
  }
  public func protobufBytes() -> [UInt8] {
    var w = StandInWriter()
    w.string(1, name)
    w.string(2, plugin)
    w.uint(3, UInt64(status.rawValue))
    w.uint(4, UInt64(attempts))
    w.message(5, usage)
    w.string(6, lastError)
    w.bool(7, lastErrorRetryable)
    w.int(8, startedAtMs)
    w.int(9, finishedAtMs)
    w.uint(10, artifactBytes)
    w.int(11, savedMicros)
    return w.bytes
  }
}

extension Artifact: WireMessage {
  public init(protobufBytes bytes: [UInt8]) throws(WireError) {
    self.init()
    for (field, value) in try standInFields(bytes, "resumable.v1.Artifact") {
      switch field {
      case 1: step = value.string
      case 2: data = value.data
      default: break
      }
    }
  }
  public func protobufBytes() -> [UInt8] {
    var w = StandInWriter()
    w.string(1, step)
    w.data(2, data)
    return w.bytes
  }
}

extension CostLedger: WireMessage {
  public init(protobufBytes bytes: [UInt8]) throws(WireError) {
    self.init()
    for (field, value) in try standInFields(bytes, "resumable.v1.CostLedger") {
      switch field {
      case 1: spentMicros = value.int
      case 2: savedByResumeMicros = value.int
      case 3: inputTokens = value.uint
      case 4: outputTokens = value.uint
      default: break
      }
    }
  }
  public func protobufBytes() -> [UInt8] {
    var w = StandInWriter()
    w.int(1, spentMicros)
    w.int(2, savedByResumeMicros)
    w.uint(3, inputTokens)
    w.uint(4, outputTokens)
    return w.bytes
  }
}

extension RunState: WireMessage {
  public init(protobufBytes bytes: [UInt8]) throws(WireError) {
    self.init()
    for (field, value) in try standInFields(bytes, "resumable.v1.RunState") {
      switch field {
      case 1: workflowID = value.string
      case 2: workflow = value.string
      case 3: status = RunStatus(rawValue: Int(value.uint)) ?? .unspecified
      case 4: currentStep = value.string
      case 5: currentStepIndex = UInt32(truncatingIfNeeded: value.uint)
      case 6: steps.append(try StepRecord(protobufBytes: value.data))
      case 7: artifacts.append(try Artifact(protobufBytes: value.data))
      case 8: cost = try CostLedger(protobufBytes: value.data)
      case 9: schemaVersion = UInt32(truncatingIfNeeded: value.uint)
      case 10: createdAtMs = value.int
      case 11: updatedAtMs = value.int
      case 12: expiresAtMs = value.int
      case 13: resumes = UInt32(truncatingIfNeeded: value.uint)
      case 14: error = value.string
      default: break
      }
    }
  }
  public func protobufBytes() -> [UInt8] {
    var w = StandInWriter()
    w.string(1, workflowID)
    w.string(2, workflow)
    w.uint(3, UInt64(status.rawValue))
    w.string(4, currentStep)
    w.uint(5, UInt64(currentStepIndex))
    for step in steps { w.message(6, step) }
    for artifact in artifacts { w.message(7, artifact) }
    w.message(8, cost)
    w.uint(9, UInt64(schemaVersion))
    w.int(10, createdAtMs)
    w.int(11, updatedAtMs)
    w.int(12, expiresAtMs)
    w.uint(13, UInt64(resumes))
    w.string(14, error)
    return w.bytes
  }
}
