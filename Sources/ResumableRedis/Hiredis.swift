internal import CHiredis
import NIOCore

/// Everything that touches hiredis pointers lives in this file: the RESP reader owner, the
/// reply copier and the command formatter. Nothing here blocks: hiredis only parses and
/// formats bytes, the socket belongs to SwiftNIO.
enum Hiredis {
  /// The one place hiredis return codes become `RedisError`s (`REDIS_ERR` is -1 for both
  /// the reader and the formatter; the formatter also returns a length on success).
  @discardableResult
  static func check(_ returnCode: Int32, orThrow error: @autoclosure () -> RedisError)
    throws(RedisError) -> Int32
  {
    guard returnCode != REDIS_ERR else { throw error() }
    return returnCode
  }

  /// Appends the RESP encoding of `command` to `buffer`, formatted by `redisFormatCommandArgv`.
  static func encode(_ command: [RedisArgument], into buffer: inout ByteBuffer) throws(RedisError) {
    guard !command.isEmpty else {
      throw RedisError(code: .invalidCommand, message: "a command needs at least its name")
    }
    // hiredis wants one pointer and one length per argument: lay the arguments out in one
    // contiguous array (plus a sentinel byte, so the base address is never nil).
    var joined: [UInt8] = []
    joined.reserveCapacity(command.reduce(1) { $0 + $1.bytes.count })
    var offsets: [Int] = []
    var lengths: [Int] = []
    offsets.reserveCapacity(command.count)
    lengths.reserveCapacity(command.count)
    for argument in command {
      offsets.append(joined.count)
      lengths.append(argument.bytes.count)
      joined.append(contentsOf: argument.bytes)
    }
    joined.append(0)
    var formatted: UnsafeMutablePointer<CChar>?
    defer { if let formatted { redisFreeCommand(formatted) } }
    let length = joined.withUnsafeBytes { bytes in
      let base = bytes.baseAddress!.assumingMemoryBound(to: CChar.self)
      var argv: [UnsafePointer<CChar>?] = offsets.map { UnsafePointer(base + $0) }
      return argv.withUnsafeMutableBufferPointer { argv in
        redisFormatCommandArgv(&formatted, Int32(command.count), argv.baseAddress, lengths)
      }
    }
    let count = try check(
      length,
      orThrow: RedisError(
        code: .invalidCommand, message: "hiredis could not format the command (out of memory)"))
    buffer.writeBytes(UnsafeRawBufferPointer(start: formatted, count: Int(count)))
  }
}

/// Owns one hiredis `redisReader`: feed it bytes as they arrive, take complete replies out.
///
/// - Important: Not thread-safe; one instance per connection, used only on its event loop.
///   Freed in `deinit`.
final class RESPReader {
  private let reader: UnsafeMutablePointer<redisReader>

  init() {
    guard let reader = redisReaderCreate() else {
      fatalError("hiredis: out of memory creating a reader")
    }
    self.reader = reader
  }

  deinit { redisReaderFree(reader) }

  /// Appends `bytes` to the reader's buffer.
  func feed(_ bytes: ByteBuffer) throws(RedisError) {
    let returnCode = bytes.withUnsafeReadableBytes { raw -> Int32 in
      guard let base = raw.baseAddress else { return REDIS_OK }
      return redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), raw.count)
    }
    try Hiredis.check(returnCode, orThrow: protocolError())
  }

  /// The next complete reply, or `nil` if more bytes are needed.
  ///
  /// Throws `RedisError.Code.protocolError` once the stream is not valid RESP; the reader is
  /// unusable afterwards and the connection must be closed.
  func next() throws(RedisError) -> RESPValue? {
    var reply: UnsafeMutableRawPointer?
    try Hiredis.check(redisReaderGetReply(reader, &reply), orThrow: protocolError())
    guard let reply else { return nil }
    defer { freeReplyObject(reply) }
    return Self.copy(reply.assumingMemoryBound(to: redisReply.self))
  }

  private func protocolError() -> RedisError {
    let message = withUnsafeBytes(of: reader.pointee.errstr) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    return .protocolError(
      "invalid reply from Redis: \(message.isEmpty ? "unknown reader error" : message)")
  }

  /// Deep-copies a hiredis reply into a `RESPValue` (hiredis limits nesting to 7 levels).
  private static func copy(_ reply: UnsafePointer<redisReply>) -> RESPValue {
    let reply = reply.pointee
    func bytes() -> [UInt8] {
      guard let str = reply.str, reply.len > 0 else { return [] }
      return Array(UnsafeRawBufferPointer(start: str, count: reply.len))
    }
    switch reply.type {
    case REDIS_REPLY_STRING:
      return .bulkString(bytes())
    case REDIS_REPLY_STATUS:
      return .simpleString(String(decoding: bytes(), as: UTF8.self))
    case REDIS_REPLY_ERROR:
      return .error(String(decoding: bytes(), as: UTF8.self))
    case REDIS_REPLY_INTEGER:
      return .integer(Int64(reply.integer))
    case REDIS_REPLY_ARRAY:
      return .array((0..<reply.elements).map { copy(reply.element[$0]!) })
    default:  // REDIS_REPLY_NIL; RESP2 has no other types
      return .null
    }
  }
}
