// libFuzzer target: the frame decoder and envelope decoding, as the server
// runs them on a connection. Built only by `make fuzz` (RESUMABLE_FUZZ=1).
//
// The first input byte sets the chunk size the rest arrives in (1…256), so
// frames split across reads are explored too. Invariants: the decoder either
// emits frames whose bodies add up to no more than the input or throws one of
// its two documented errors; never a crash, never more than the limit buffered.
import NIOCore
import NIOEmbedded
import CLibFuzzer
import Glibc
import ResumableWire

enum Limits {
  static let maximumFrameBytes = 4096
}

// libFuzzer links against this name, and the driver below is handed it too.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzFrames(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = Array(UnsafeBufferPointer(start: data, count: size))
  guard let first = input.first else { return 0 }
  let chunk = Int(first) + 1
  let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maximumFrameBytes: Limits.maximumFrameBytes)))
  // Closing the channel breaks the channel/pipeline reference cycle, also
  // after the decoder threw (else LeakSanitizer rightly reports it).
  defer { _ = try? channel.finish() }
  var bodyBytes = 0
  var offset = 1
  do {
    while offset < input.count {
      let end = min(offset + chunk, input.count)
      try channel.writeInbound(ByteBuffer(bytes: input[offset..<end]))
      offset = end
      while let frame = try channel.readInbound(as: ByteBuffer.self) {
        precondition(frame.readableBytes <= Limits.maximumFrameBytes, "a frame over the limit was emitted")
        bodyBytes += frame.readableBytes
        _ = try? Envelope(frameBody: frame)
      }
    }
    _ = try channel.finish(acceptAlreadyClosed: true)
  } catch is FrameTooLargeError {
  } catch is TruncatedFrameError {
  } catch {
    preconditionFailure("the frame decoder threw an undocumented error: \(error)")
  }
  precondition(bodyBytes <= input.count, "frames add up to more than the input")
  return 0
}

var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv, fuzzFrames))
