import Foundation

/// A record file for `simulate`'s `record` setting, read back as counts.
public struct RecordFile: Sendable {
  /// Where `simulate` appends a line per execution.
  public let path: String

  /// A new record file's path in `directory` (the file appears with the first execution).
  public init(in directory: TemporaryDirectory) {
    path = directory.appending("record-\(UUID().uuidString.prefix(8))")
  }

  /// Lines `workflow_id step attempt`.
  public func lines() -> [String] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
    return text.split(separator: "\n").map(String.init)
  }

  /// How many times each step ran for `workflowID`.
  public func executions(of workflowID: String) -> [String: Int] {
    var counts: [String: Int] = [:]
    for line in lines() {
      let parts = line.split(separator: " ")
      guard parts.count == 3, parts[0] == workflowID else { continue }
      counts[String(parts[1]), default: 0] += 1
    }
    return counts
  }
}
