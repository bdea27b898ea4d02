// libFuzzer target: the definitions file (YAML or JSON) and the JSON parser
// that reads workflow inputs. Built only by `make fuzz` (RESUMABLE_FUZZ=1).
//
// The first byte picks the parser. Invariants: parsing throws its documented
// error or returns definitions that pass their own rules; never a crash.
import CLibFuzzer
import Glibc
import ResumableCore

enum Plugins {
  static let registry = PluginRegistry.builtIn()
}

// libFuzzer links against this name, and the driver below is handed it too.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzDefinitions(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = Array(UnsafeBufferPointer(start: data, count: size))
  guard let selector = input.first else { return 0 }
  let bytes = input.dropFirst()
  if selector & 1 == 0 {
    _ = try? JSONValue(parsing: bytes)
    return 0
  }
  guard let text = String(validating: bytes, as: UTF8.self) else { return 0 }
  guard let workflows = try? DefinitionsFile.parse(text, file: "fuzz.yaml", registry: Plugins.registry) else { return 0 }
  for workflow in workflows {
    precondition(!workflow.steps.isEmpty, "a workflow without steps was accepted")
    precondition(Set(workflow.steps.map(\.name)).count == workflow.steps.count, "duplicate step names were accepted")
  }
  return 0
}

var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv, fuzzDefinitions))
