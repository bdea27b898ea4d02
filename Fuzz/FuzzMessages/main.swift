// libFuzzer target: protobuf decoding of the envelope and every message, the
// bytes a client controls. Built only by `make fuzz` (RESUMABLE_FUZZ=1).
//
// The first byte picks the message type, among every message the .proto
// declares (`generatedMessageTypes`, generated with them, so a new message is
// fuzzed as soon as it exists); the rest is decoded. Invariant: a message that
// decodes re-encodes to bytes that decode to the same message.
import CLibFuzzer
import Glibc
import ResumableWire

extension WireMessage where Self: Hashable {
  /// Decodes `bytes`; what decodes must survive its own encoding unchanged.
  static func roundTrip(_ bytes: [UInt8]) {
    guard let message = try? Self(protobufBytes: bytes) else { return }
    let again: Self
    do {
      again = try Self(protobufBytes: message.protobufBytes())
    } catch {
      preconditionFailure("\(Self.self) decoded, but its own encoding does not: \(error)")
    }
    precondition(again == message, "\(Self.self) changed in a round trip: \(message) became \(again)")
  }
}

/// Every message type, in a fixed order (by full name), so a corpus keeps its meaning.
let messageTypes = generatedMessageTypes.sorted { $0.key < $1.key }.map(\.value)

// libFuzzer links against this name, and the driver below is handed it too.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzMessages(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = Array(UnsafeBufferPointer(start: data, count: size))
  guard let selector = input.first else { return 0 }
  messageTypes[Int(selector) % messageTypes.count].roundTrip(Array(input.dropFirst()))
  return 0
}

var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv, fuzzMessages))
