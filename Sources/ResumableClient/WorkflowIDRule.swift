/// The rule for run ids (`workflow_id`): 1 to 128 bytes of `A-Z a-z 0-9 . _ : -`.
///
/// The server enforces it; clients can check it first to give a clearer, earlier message.
public enum WorkflowIDRule {
  /// The longest id allowed, in bytes.
  public static let maximumBytes = 128

  /// Why `id` is not a valid run id, or `nil` when it is.
  /// - Parameter id: A candidate run id.
  /// - Returns: A message a person can act on, naming the first offending character.
  public static func problem(with id: String) -> String? {
    let bytes = id.utf8
    if bytes.isEmpty {
      return "a workflow id cannot be empty"
    }
    if bytes.count > maximumBytes {
      return "the workflow id is \(bytes.count) bytes long; at most \(maximumBytes) are allowed"
    }
    if let bad = id.unicodeScalars.first(where: { !isAllowed($0) }) {
      let shown = bad.properties.isWhitespace || bad.value < 0x20 ? bad.escaped(asASCII: true) : String(bad)
      return "the workflow id \"\(id)\" contains \"\(shown)\"; only letters A-Z a-z, digits 0-9 and . _ : - are allowed"
    }
    return nil
  }

  private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case "A"..."Z", "a"..."z", "0"..."9", ".", "_", ":", "-": true
    default: false
    }
  }
}
