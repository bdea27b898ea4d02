// libFuzzer target: protobuf decoding of the envelope and every message, the
// bytes a client controls. Built only by `make fuzz` (RESUMABLE_FUZZ=1).
//
// The first byte picks the message type; the rest is decoded. Invariant: a
// message that decodes re-encodes to bytes that decode to the same message.
import CLibFuzzer
import Glibc
import ResumableWire

func roundTrip<Message: WireMessage & Equatable>(_ type: Message.Type, _ bytes: [UInt8]) {
  guard let message = try? Message(protobufBytes: bytes) else { return }
  let again: Message
  do {
    again = try Message(protobufBytes: message.protobufBytes())
  } catch {
    preconditionFailure("\(Message.self) decoded, but its own encoding does not: \(error)")
  }
  precondition(again == message, "\(Message.self) changed in a round trip: \(message) became \(again)")
}

// libFuzzer links against this name, and the driver below is handed it too.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzMessages(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = Array(UnsafeBufferPointer(start: data, count: size))
  guard let selector = input.first else { return 0 }
  let bytes = Array(input.dropFirst())
  switch selector % 14 {
  case 0: roundTrip(Envelope.self, bytes)
  case 1: roundTrip(StartWorkflowRequest.self, bytes)
  case 2: roundTrip(StartWorkflowResponse.self, bytes)
  case 3: roundTrip(ResumeWorkflowRequest.self, bytes)
  case 4: roundTrip(ResumeWorkflowResponse.self, bytes)
  case 5: roundTrip(GetStateRequest.self, bytes)
  case 6: roundTrip(GetStateResponse.self, bytes)
  case 7: roundTrip(RunState.self, bytes)
  case 8: roundTrip(StepRecord.self, bytes)
  case 9: roundTrip(Artifact.self, bytes)
  case 10: roundTrip(CostLedger.self, bytes)
  case 11: roundTrip(Usage.self, bytes)
  case 12: roundTrip(GivenInput.self, bytes)
  default: roundTrip(HistoryMessage.self, bytes)
  }
  return 0
}

var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv, fuzzMessages))
