import Foundation
@testable import ResumableCore
import Testing

/// The ids drawn for runs started without one, and for tasks.
@Suite("Random ids")
struct RandomTextTests {
  @Test func aRunIDIsALowercaseVersion4UUID() throws {
    var seen = Set<String>()
    for _ in 0..<1_000 {
      let id = RandomText.uuid()
      let parsed = try #require(UUID(uuidString: id), "\(id)")
      #expect(parsed.uuidString.lowercased() == id)
      let characters = Array(id)
      #expect(characters[14] == "4")  // the version
      #expect("89ab".contains(characters[19]))  // the variant
      seen.insert(id)
    }
    #expect(seen.count == 1_000)
  }

  @Test(arguments: [1, 4, 8, 12, 17])
  func hexHasTwoLowercaseDigitsPerByte(bytes: Int) {
    let text = RandomText.hex(bytes: bytes)
    #expect(text.count == bytes * 2)
    #expect(text.allSatisfy { "0123456789abcdef".contains($0) })
  }
}
