// Envelope <-> protobuf-c (`Resumable__V1__Envelope`). See `ProtobufC.swift`
// for the memory and string rules.

internal import CResumableProto

extension Envelope: WireMessage {
  /// Decodes an envelope from protobuf bytes.
  ///
  /// A status code gRPC does not define keeps its number.
  /// - Throws: `WireError` when the bytes are not a valid `resumable.v1.Envelope`,
  ///   a string field is not UTF-8 text without NUL, or a field came with the
  ///   wrong wire type.
  public init(protobufBytes bytes: [UInt8]) throws(WireError) {
    try self.init(unpacking: bytes)
  }

  /// Encodes the envelope as protobuf bytes; fields at their defaults take no bytes.
  ///
  /// Strings are sent up to their first U+0000; a status code past `Int32` is truncated.
  public func protobufBytes() -> [UInt8] { packed() }
}

extension Envelope: ProtobufCMessageConvertible {
  static var protobufC: ProtobufCFunctions<Resumable__V1__Envelope> {
    ProtobufCFunctions(
      descriptor: resumable__v1__envelope__descriptor,
      packedSize: resumable__v1__envelope__get_packed_size,
      pack: resumable__v1__envelope__pack,
      unpack: resumable__v1__envelope__unpack,
      freeUnpacked: resumable__v1__envelope__free_unpacked
    )
  }

  init(cMessage c: Resumable__V1__Envelope) {
    self.init(
      requestID: c.request_id,
      method: swiftString(c.method),
      payload: swiftBytes(c.payload),
      statusCode: StatusCode(rawValue: enumNumber(c.status_code.rawValue)),
      statusMessage: swiftString(c.status_message),
      timeoutMilliseconds: c.timeout_ms,
      endOfStream: c.end_of_stream != 0
    )
  }

  func cMessage(in arena: inout PackingArena) -> Resumable__V1__Envelope {
    var c = Resumable__V1__Envelope()
    resumable__v1__envelope__init(&c)
    c.request_id = requestID
    c.method = arena.cString(method)
    c.payload = arena.binaryData(payload)
    c.status_code = Resumable__V1__StatusCode(rawValue: enumRawValue(statusCode.rawValue))
    c.status_message = arena.cString(statusMessage)
    c.timeout_ms = timeoutMilliseconds
    c.end_of_stream = endOfStream ? 1 : 0
    return c
  }
}
