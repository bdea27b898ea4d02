// The protobuf-c funnel. With `Generated/Messages+ProtobufC.generated.swift`
// (each message's conversions, which call into this file), the only files that
// see protobuf-c pointers: C results are copied into Swift values and freed
// before a call returns, and no pointer crosses a public signature.
//
// Strings. protobuf-c holds a string field as a NUL-terminated `char *` and
// checks nothing on unpack, so:
// - decoding rejects (with `WireError`) a string field that is not valid
//   UTF-8 or that contains U+0000 — proto3 requires UTF-8, and a NUL would
//   silently cut the string short. The check reads the wire bytes themselves
//   (`validateFields`), not the C copy, whose length is lost.
// - encoding cannot carry U+0000 either: protobuf-c measures strings with
//   `strlen`, so a string is sent up to its first NUL.
//
// Wire types. protobuf-c rejects a known field sent with the wrong wire type,
// except a `bool`, which it reads from any; `validateFields` rejects that too,
// so every field is held to the same rule.

internal import CResumableProto

/// The protoc-c generated entry points of one message type.
struct ProtobufCFunctions<CMessage> {
  /// `resumable__v1__…__descriptor`.
  var descriptor: ProtobufCMessageDescriptor
  /// `resumable__v1__…__get_packed_size`.
  var packedSize: (UnsafePointer<CMessage>?) -> Int
  /// `resumable__v1__…__pack`.
  var pack: (UnsafePointer<CMessage>?, UnsafeMutablePointer<UInt8>?) -> Int
  /// `resumable__v1__…__unpack`.
  var unpack:
    (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) ->
      UnsafeMutablePointer<CMessage>?
  /// `resumable__v1__…__free_unpacked`.
  var freeUnpacked:
    (UnsafeMutablePointer<CMessage>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void
}

/// A Swift message type backed by a protoc-c generated C struct.
protocol ProtobufCMessageConvertible {
  associatedtype CMessage
  /// The generated functions for `CMessage`.
  static var protobufC: ProtobufCFunctions<CMessage> { get }
  /// Copies an unpacked C message; strings in it have been validated already.
  init(cMessage: CMessage)
  /// Builds the C message, pointing into memory that `arena` owns.
  func cMessage(in arena: inout PackingArena) -> CMessage
}

extension ProtobufCMessageConvertible {
  /// The message's full protobuf name, e.g. `resumable.v1.Envelope`.
  static var protobufName: String { String(cString: protobufC.descriptor.name) }

  /// Decodes protobuf bytes with protobuf-c.
  /// - Throws: `WireError` naming the expected message when protobuf-c rejects
  ///   the bytes, a string field is not UTF-8 without NUL, or a field came
  ///   with the wrong wire type.
  init(unpacking bytes: UnsafeRawBufferPointer) throws(WireError) {
    let functions = Self.protobufC
    let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
    guard let message = functions.unpack(nil, bytes.count, data) else {
      throw WireError(
        "bytes are not a valid \(Self.protobufName) (protobuf-c could not unpack them)")
    }
    defer { functions.freeUnpacked(message, nil) }
    var descriptor = functions.descriptor
    try validateFields(in: bytes, of: &descriptor)
    self.init(cMessage: message.pointee)
  }

  /// Decodes protobuf bytes with protobuf-c; see `init(unpacking:)` for the rules.
  init(unpacking bytes: [UInt8]) throws(WireError) {
    let result = bytes.withUnsafeBytes { raw in
      Result { () throws(WireError) in try Self(unpacking: raw) }
    }
    self = try result.get()
  }

  /// Encodes the message with protobuf-c.
  func packed() -> [UInt8] {
    let functions = Self.protobufC
    var arena = PackingArena()
    defer { arena.deallocateAll() }
    var message = self.cMessage(in: &arena)
    let size = functions.packedSize(&message)
    guard size > 0 else { return [] }
    return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
      count = functions.pack(&message, buffer.baseAddress)
      precondition(count == size, "protobuf-c packed \(count) bytes, announced \(size)")
    }
  }

  /// Builds the C message in memory that `arena` owns, for a message field.
  func cMessagePointer(in arena: inout PackingArena) -> UnsafeMutablePointer<CMessage> {
    let message = self.cMessage(in: &arena)
    return arena.copy(message)
  }

  /// Builds a message field: absent (`nil`) when `value` is the default, so
  /// that, as for scalars, a default takes no bytes.
  static func cMessageField(
    _ value: Self, default defaultValue: Self, in arena: inout PackingArena
  ) -> UnsafeMutablePointer<CMessage>? where Self: Equatable {
    value == defaultValue ? nil : value.cMessagePointer(in: &arena)
  }

  /// Builds an array of pointers to C messages, as protobuf-c wants a repeated
  /// message field: `nil` when `values` is empty.
  static func cMessagePointers(
    _ values: [Self], in arena: inout PackingArena
  ) -> UnsafeMutablePointer<UnsafeMutablePointer<CMessage>?>? {
    var pointers: [UnsafeMutablePointer<CMessage>?] = []
    pointers.reserveCapacity(values.count)
    for value in values {
      pointers.append(value.cMessagePointer(in: &arena))
    }
    return arena.copy(elementsOf: pointers)
  }

  /// Copies a repeated message field of an unpacked C message.
  static func values(
    _ pointers: UnsafeMutablePointer<UnsafeMutablePointer<CMessage>?>?, count: Int
  ) -> [Self] {
    UnsafeBufferPointer(start: pointers, count: pointers == nil ? 0 : count).compactMap {
      $0.map { Self(cMessage: $0.pointee) }
    }
  }

  /// Copies an optional message field of an unpacked C message; absent is the default.
  static func value(_ pointer: UnsafeMutablePointer<CMessage>?, default: Self) -> Self {
    pointer.map { Self(cMessage: $0.pointee) } ?? `default`
  }
}

/// The C memory a message under construction points into — strings, bytes,
/// nested messages and pointer arrays — released together once packed.
///
/// - Important: call `deallocateAll()` (in a `defer`) once the C message is no
///   longer used; every pointer the arena handed out dangles afterwards.
struct PackingArena: ~Copyable {
  private var blocks: [UnsafeMutableRawPointer] = []

  init() {}

  /// Releases every block the arena allocated.
  mutating func deallocateAll() {
    for block in blocks { block.deallocate() }
    blocks.removeAll()
  }

  /// A NUL-terminated copy of `string`; protobuf-c reads it up to its first NUL.
  mutating func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
    let utf8 = string.utf8
    let raw = allocate(byteCount: utf8.count + 1, alignment: 1)
    let bytes = raw.bindMemory(to: UInt8.self, capacity: utf8.count + 1)
    let (_, written) = UnsafeMutableBufferPointer(start: bytes, count: utf8.count).initialize(
      from: utf8)
    bytes[written] = 0
    return raw.bindMemory(to: CChar.self, capacity: utf8.count + 1)
  }

  /// NUL-terminated copies of `strings`, as protobuf-c wants a repeated string
  /// field: `nil` when `strings` is empty.
  mutating func cStrings(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
    var pointers: [UnsafeMutablePointer<CChar>?] = []
    pointers.reserveCapacity(strings.count)
    for string in strings { pointers.append(cString(string)) }
    return copy(elementsOf: pointers)
  }

  /// A copy of `bytes` as protobuf-c binary data; empty is `{0, NULL}`.
  mutating func binaryData(_ bytes: [UInt8]) -> ProtobufCBinaryData {
    guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
    return ProtobufCBinaryData(len: bytes.count, data: copy(elementsOf: bytes))
  }

  /// A copy of `value` in arena memory.
  mutating func copy<T>(_ value: T) -> UnsafeMutablePointer<T> {
    let pointer = allocate(byteCount: MemoryLayout<T>.stride, alignment: MemoryLayout<T>.alignment)
      .bindMemory(to: T.self, capacity: 1)
    pointer.initialize(to: value)
    return pointer
  }

  /// A copy of `values` in arena memory; `nil` when `values` is empty.
  mutating func copy<T>(elementsOf values: [T]) -> UnsafeMutablePointer<T>? {
    guard !values.isEmpty else { return nil }
    let pointer = allocate(
      byteCount: MemoryLayout<T>.stride * values.count, alignment: MemoryLayout<T>.alignment
    ).bindMemory(to: T.self, capacity: values.count)
    _ = UnsafeMutableBufferPointer(start: pointer, count: values.count).initialize(from: values)
    return pointer
  }

  private mutating func allocate(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer {
    let block = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: alignment)
    blocks.append(block)
    return block
  }
}

/// Copies a string field of an unpacked C message (already validated by
/// `validateFields`); `NULL` is the empty string.
func swiftString(_ pointer: UnsafePointer<CChar>?) -> String {
  pointer.map { String(cString: $0) } ?? ""
}

/// Copies a repeated string field of an unpacked C message (each validated).
func swiftStrings(_ pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, count: Int) -> [String] {
  UnsafeBufferPointer(start: pointers, count: pointers == nil ? 0 : count).map { swiftString($0) }
}

/// Copies a bytes field of an unpacked C message.
func swiftBytes(_ data: ProtobufCBinaryData) -> [UInt8] {
  guard data.len > 0, let bytes = data.data else { return [] }
  return Array(UnsafeBufferPointer(start: bytes, count: data.len))
}

/// The number of a protobuf-c enum value, as protobuf's `int32`.
func enumNumber(_ rawValue: UInt32) -> Int {
  Int(Int32(bitPattern: rawValue))
}

/// A protobuf-c enum value for an `int32` number; numbers past `Int32` are truncated.
func enumRawValue(_ number: Int) -> UInt32 {
  UInt32(bitPattern: Int32(truncatingIfNeeded: number))
}

/// Checks what protobuf-c 1.4.1 leaves unchecked in `bytes`, a message it
/// has accepted as `descriptor`, nested messages included:
/// - every string field is valid UTF-8 without NUL;
/// - every known field came with its type's wire type (protobuf-c checks that
///   for every type but `bool`, which it reads from any wire type).
///
/// - Throws: `WireError` naming the message and field.
func validateFields(
  in bytes: UnsafeRawBufferPointer, of descriptor: UnsafePointer<ProtobufCMessageDescriptor>
) throws(WireError) {
  let messageName = String(cString: descriptor.pointee.name)
  var reader = WireReader(bytes)
  while !reader.isAtEnd {
    guard let key = reader.readVarint(), let wireType = WireType(rawValue: key & 7),
      let body = reader.readValue(of: wireType)
    else {
      throw WireError("bytes are not a valid \(messageName) (malformed field)")
    }
    guard let number = UInt32(exactly: key >> 3),
      let field = protobuf_c_message_descriptor_get_field(descriptor, number)
    else { continue }  // unknown field: protobuf-c skips it, so do we
    let fieldName = String(cString: field.pointee.name)
    guard wireType.canCarry(field.pointee) else {
      throw WireError(
        "bytes are not a valid \(messageName): field \(fieldName) sent with wire type "
          + "\(wireType.rawValue)")
    }
    switch field.pointee.type {
    case PROTOBUF_C_TYPE_STRING:
      guard isUTF8WithoutNUL(body) else {
        throw WireError(
          "bytes are not a valid \(messageName): string field \(fieldName) is not UTF-8 text "
            + "without NUL")
      }
    case PROTOBUF_C_TYPE_MESSAGE:
      guard let nested = field.pointee.descriptor else { continue }
      try validateFields(
        in: body, of: nested.assumingMemoryBound(to: ProtobufCMessageDescriptor.self))
    default:
      continue
    }
  }
}

/// The protobuf wire types protobuf-c supports (not the deprecated groups).
private enum WireType: UInt64 {
  case varint = 0
  case fixed64 = 1
  case lengthDelimited = 2
  case fixed32 = 5

  /// Whether a value of this wire type can be `field`'s: its type's own wire
  /// type, or length-delimited for a packed repeated scalar.
  func canCarry(_ field: ProtobufCFieldDescriptor) -> Bool {
    let expected: WireType
    switch field.type {
    case PROTOBUF_C_TYPE_STRING, PROTOBUF_C_TYPE_BYTES, PROTOBUF_C_TYPE_MESSAGE:
      return self == .lengthDelimited
    case PROTOBUF_C_TYPE_FIXED64, PROTOBUF_C_TYPE_SFIXED64, PROTOBUF_C_TYPE_DOUBLE:
      expected = .fixed64
    case PROTOBUF_C_TYPE_FIXED32, PROTOBUF_C_TYPE_SFIXED32, PROTOBUF_C_TYPE_FLOAT:
      expected = .fixed32
    default:
      expected = .varint
    }
    return self == expected
      || (self == .lengthDelimited && field.label == PROTOBUF_C_LABEL_REPEATED)
  }
}

/// Whether `bytes` is valid UTF-8 (no overlong forms, no surrogates) without U+0000.
private func isUTF8WithoutNUL(_ bytes: UnsafeRawBufferPointer) -> Bool {
  var iterator = bytes.makeIterator()
  var decoder = UTF8()
  while true {
    switch decoder.decode(&iterator) {
    case .scalarValue(let scalar):
      if scalar.value == 0 { return false }
    case .emptyInput:
      return true
    case .error:
      return false
    }
  }
}

/// Reads the protobuf wire format just far enough to find string fields.
private struct WireReader {
  private let bytes: UnsafeRawBufferPointer
  private var offset = 0

  init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

  var isAtEnd: Bool { offset >= bytes.count }

  /// A base-128 varint of at most 10 bytes, or `nil` when malformed or truncated.
  mutating func readVarint() -> UInt64? {
    var value: UInt64 = 0
    for shift in stride(from: UInt64(0), to: 70, by: 7) {
      guard offset < bytes.count else { return nil }
      let byte = bytes[offset]
      offset += 1
      value |= UInt64(byte & 0x7F) << shift
      if byte & 0x80 == 0 { return value }
    }
    return nil
  }

  /// The next value of `wireType` (a length-delimited one without its length),
  /// or `nil` when malformed or truncated.
  mutating func readValue(of wireType: WireType) -> UnsafeRawBufferPointer? {
    switch wireType {
    case .varint:
      let start = offset
      guard readVarint() != nil else { return nil }
      return UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
    case .fixed64:
      return read(count: 8)
    case .fixed32:
      return read(count: 4)
    case .lengthDelimited:
      guard let length = readVarint() else { return nil }
      return read(count: length)
    }
  }

  /// The next `count` bytes, or `nil` when fewer remain.
  mutating func read(count: UInt64) -> UnsafeRawBufferPointer? {
    guard count <= UInt64(bytes.count - offset) else { return nil }
    let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + Int(count)])
    offset += Int(count)
    return slice
  }
}
