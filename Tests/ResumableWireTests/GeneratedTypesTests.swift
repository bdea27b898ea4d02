import Foundation
@testable import ResumableWire
import Testing

/// The generated Swift (Sources/ResumableWire/Generated) covers the .proto:
/// every message has a type, backed by the protoc-c struct of that message.
@Suite("Generated message types")
struct GeneratedTypesTests {
  /// The full names of the messages declared in proto/resumable/v1/resumable.proto.
  static let protoMessages: Set<String> = {
    let proto = URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("proto/resumable/v1/resumable.proto")
    guard let text = try? String(contentsOf: proto, encoding: .utf8) else { return [] }
    let names = text.split(separator: "\n").compactMap { line in
      line.firstMatch(of: /^message (\w+)/).map { "resumable.v1.\($0.1)" }
    }
    return Set(names)
  }()

  @Test func everyMessageOfTheProtoHasAType() {
    #expect(Self.protoMessages.count > 20, "the .proto was not found or not read")
    #expect(Set(generatedMessageTypes.keys) == Self.protoMessages)
  }

  /// The name in a decoding error comes from the protoc-c descriptor, so this
  /// checks each Swift type is wired to its own C message.
  @Test(arguments: generatedMessageTypes.keys.sorted())
  func typeIsBackedByItsCMessage(_ name: String) throws {
    let type = try #require(generatedMessageTypes[name])
    #expect(try type.init(protobufBytes: []).protobufBytes() == [])
    let error = try #require(throws: WireError.self) { try type.init(protobufBytes: [0xFF]) }
    #expect(error.message.contains("\(name) "), "\(error)")
  }
}
