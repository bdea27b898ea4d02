import Yams

extension DefinitionsFile {
  /// Refuses YAML whose mapping keys are not scalars (`{a: 1}: x`, `[a]: x`).
  ///
  /// Yams' `load` force-unwraps a string from every key and traps on any
  /// other, so such a file would crash the server at start-up (found by
  /// `make fuzz`, FuzzDefinitions); this walk over the composed node tree
  /// turns it into a `DefinitionError` first.
  static func checkMappingKeys(_ node: Node?, path: String = "") throws(DefinitionError) {
    switch node {
    case .mapping(let mapping)?:
      for (key, value) in mapping {
        guard case .scalar(let scalar) = key else {
          throw DefinitionError(
            file: "", message: "a mapping key\(path.isEmpty ? "" : " under \(path)") is not a plain string; keys must be names")
        }
        try checkMappingKeys(value, path: path.isEmpty ? scalar.string : "\(path).\(scalar.string)")
      }
    case .sequence(let sequence)?:
      for (index, item) in sequence.enumerated() {
        try checkMappingKeys(item, path: "\(path)[\(index)]")
      }
    case .scalar?, .alias?, nil:
      break
    }
  }
}
