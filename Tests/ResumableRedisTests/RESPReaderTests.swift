import NIOCore
import Testing

@testable import ResumableRedis

/// The hiredis reader and formatter, without a server: replies split at every byte
/// boundary, and input that is not RESP.
@Suite struct RESPReaderTests {
  static let stream = Array(
    ("+OK\r\n-ERR bad\r\n:-42\r\n$5\r\na\0\r\nb\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n"
      + "*3\r\n:1\r\n*2\r\n$1\r\nx\r\n$-1\r\n+y\r\n").utf8)
  static let expected: [RESPValue] = [
    .simpleString("OK"), .error("ERR bad"), .integer(-42), .bulkString(Array("a\0\r\nb".utf8)),
    .bulkString([]), .null, .null, .array([]),
    .array([.integer(1), .array([.bulkString(Array("x".utf8)), .null]), .simpleString("y")]),
  ]

  func decode(_ chunks: [ArraySlice<UInt8>]) throws -> [RESPValue] {
    let reader = RESPReader()
    var replies: [RESPValue] = []
    for chunk in chunks {
      try reader.feed(ByteBuffer(bytes: chunk))
      while let reply = try reader.next() { replies.append(reply) }
    }
    return replies
  }

  @Test func decodesEveryReplyTypeInOneChunk() throws {
    #expect(try decode([Self.stream[...]]) == Self.expected)
  }

  @Test func decodesWhenSplitAtEveryPosition() throws {
    for split in 0...Self.stream.count {
      let chunks = [Self.stream[..<split], Self.stream[split...]]
      #expect(try decode(chunks) == Self.expected, "split at \(split)")
    }
  }

  @Test func decodesByteByByte() throws {
    #expect(try decode(Self.stream.map { [$0][...] }) == Self.expected)
  }

  @Test(arguments: ["HTTP/1.1 400 Bad Request\r\n\r\n", "?\r\n", "\0\0\0\0"])
  func rejectsBytesThatAreNotRESP(garbage: String) throws {
    let error = #expect(throws: RedisError.self) { try decode([Array(garbage.utf8)[...]]) }
    #expect(error?.code == .protocolError)
    #expect(error?.message.contains("Protocol error") == true)
  }

  @Test func rejectsNestingDeeperThanHiredisSupports() throws {
    let deep = String(repeating: "*1\r\n", count: 10) + ":1\r\n"
    let error = #expect(throws: RedisError.self) { try decode([Array(deep.utf8)[...]]) }
    #expect(error?.code == .protocolError)
  }

  @Test func formatsCommandsWithHiredis() throws {
    var buffer = ByteBuffer()
    try Hiredis.encode(["SET", "k", RedisArgument([0, 13, 10]), ""], into: &buffer)
    try Hiredis.encode([RedisArgument(-7), RedisArgument(UInt64.max)], into: &buffer)
    #expect(
      String(buffer: buffer)
        == "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\0\r\n\r\n$0\r\n\r\n"
        + "*2\r\n$2\r\n-7\r\n$20\r\n18446744073709551615\r\n"
    )
  }

  @Test func refusesAnEmptyCommand() {
    var buffer = ByteBuffer()
    let error = #expect(throws: RedisError.self) { try Hiredis.encode([], into: &buffer) }
    #expect(error?.code == .invalidCommand)
  }
}
