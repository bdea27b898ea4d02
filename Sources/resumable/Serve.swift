import ArgumentParser

/// Placeholder: the server engineer replaces this file with the real `resumable serve`.
struct Serve: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Run the sidecar server")

  func run() async throws {
    throw NotImplementedYet()
  }
}

private struct NotImplementedYet: Error, CustomStringConvertible {
  var description: String { "not implemented yet" }
}
