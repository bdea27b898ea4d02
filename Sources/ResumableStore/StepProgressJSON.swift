import Glibc
import ResumableCore

/// A fast path for the step records' JSON, the hottest encode and decode of
/// the store (two encodes per commit, one decode per step on every read).
///
/// It writes exactly what `JSONEncoder` with sorted keys writes for a
/// `StepProgress` (the tests compare them byte for byte), and reads that shape
/// back. Anything else — an unknown key, a number that is not a plain
/// integer, a missing field — makes `decode` return nil, and the caller
/// falls back to `JSONDecoder`, which gives the real answer or error. So a
/// record is never misread, only read more slowly.
///
/// - Important: When `StepProgress`, `StepUsage` or `GivenContext` gain a
///   field, add it here (the tests count their fields and fail until then).
enum StepProgressJSON {
  // MARK: - Encoding

  static func encode(_ step: StepProgress) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(256)
    out.append(UInt8(ascii: "{"))
    member("artifactBytes", step.artifactBytes, &out, first: true)
    member("attempts", step.attempts, &out)
    member("committedCostMicros", step.committedCostMicros, &out)
    member("finishedAtMs", step.finishedAtMs, &out)
    if let given = step.given {
      key("given", &out)
      out.append(UInt8(ascii: "{"))
      member("historyBytes", given.historyBytes, &out, first: true)
      member("historyMessages", given.historyMessages, &out)
      key("inputs", &out)
      out.append(UInt8(ascii: "["))
      for (index, input) in given.inputs.enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "{"))
        member("bytes", input.bytes, &out, first: true)
        member("name", input.name, &out)
        out.append(UInt8(ascii: "}"))
      }
      out.append(UInt8(ascii: "]"))
      out.append(UInt8(ascii: "}"))
    }
    if let itemsTotal = step.itemsTotal { member("itemsTotal", itemsTotal, &out) }
    if let lastError = step.lastError { member("lastError", lastError, &out) }
    if let lastErrorClass = step.lastErrorClass { member("lastErrorClass", lastErrorClass.rawValue, &out) }
    member("nextAttemptAtMs", step.nextAttemptAtMs, &out)
    member("savedMicros", step.savedMicros, &out)
    member("startedAtMs", step.startedAtMs, &out)
    member("status", step.status.rawValue, &out)
    key("usage", &out)
    out.append(UInt8(ascii: "{"))
    // The cache counts only when not 0, as `StepUsage.encode(to:)` writes them.
    let usage = step.usage
    if usage.cacheWriteTokens != 0 { member("cacheWriteTokens", usage.cacheWriteTokens, &out, first: true) }
    if usage.cachedInputTokens != 0 {
      member("cachedInputTokens", usage.cachedInputTokens, &out, first: usage.cacheWriteTokens == 0)
    }
    member("costMicros", usage.costMicros, &out, first: usage.cacheWriteTokens == 0 && usage.cachedInputTokens == 0)
    member("inputTokens", usage.inputTokens, &out)
    member("outputTokens", usage.outputTokens, &out)
    out.append(UInt8(ascii: "}"))
    if let waitReason = step.waitReason { member("waitReason", waitReason, &out) }
    out.append(UInt8(ascii: "}"))
    return out
  }

  private static func key(_ name: StaticString, _ out: inout [UInt8], first: Bool = false) {
    if !first { out.append(UInt8(ascii: ",")) }
    out.append(UInt8(ascii: "\""))
    name.withUTF8Buffer { out.append(contentsOf: $0) }
    out.append(UInt8(ascii: "\""))
    out.append(UInt8(ascii: ":"))
  }

  /// `"name":value` (after a comma unless `first`), the value an integer.
  private static func member(_ name: StaticString, _ value: some BinaryInteger, _ out: inout [UInt8], first: Bool = false) {
    key(name, &out, first: first)
    integer(value, &out)
  }

  /// `"name":"value"` (after a comma unless `first`), the value a JSON string.
  private static func member(_ name: StaticString, _ value: String, _ out: inout [UInt8], first: Bool = false) {
    key(name, &out, first: first)
    string(value, &out)
  }

  /// The integer's decimal digits, written in place (no `String` made).
  private static func integer(_ value: some BinaryInteger, _ out: inout [UInt8]) {
    if value < 0 { out.append(UInt8(ascii: "-")) }
    var magnitude = value.magnitude
    let start = out.count
    repeat {
      let (quotient, digit) = magnitude.quotientAndRemainder(dividingBy: 10)
      out.append(UInt8(ascii: "0") + UInt8(digit))
      magnitude = quotient
    } while magnitude != 0
    out[start...].reverse()
  }

  /// JSON string escaping as `JSONEncoder` does it (`/` escaped too).
  private static func string(_ value: String, _ out: inout [UInt8]) {
    JSONWriter.write(value, escapingSlashes: true, into: &out)
  }

  // MARK: - Decoding

  /// The record in `bytes`, or nil when it is not the shape `encode` writes.
  static func decode(_ bytes: [UInt8]) -> StepProgress? {
    bytes.withUnsafeBufferPointer { buffer in
      var reader = Reader(bytes: buffer)
      guard let step = reader.stepState(), reader.atEnd() else { return nil }
      return step
    }
  }

  /// A member's name as read, matched against names with `switch` (`~=`) without making a String.
  private struct Key {
    let bytes: UnsafeBufferPointer<UInt8>

    static func ~= (name: StaticString, key: Key) -> Bool {
      // `memcmp`, not `elementsEqual`: a record's keys are matched against up to 14
      // names each, and the generic comparison was a sixth of decoding a run (perf).
      guard name.utf8CodeUnitCount == key.bytes.count else { return false }
      guard let bytes = key.bytes.baseAddress else { return true }
      return memcmp(name.utf8Start, bytes, key.bytes.count) == 0
    }
  }

  private struct Reader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    mutating func skipSpace() {
      while index < bytes.count {
        switch bytes[index] {
        case 0x20, 0x09, 0x0A, 0x0D: index += 1
        default: return
        }
      }
    }

    mutating func atEnd() -> Bool {
      skipSpace()
      return index == bytes.count
    }

    mutating func take(_ byte: UInt8) -> Bool {
      skipSpace()
      guard index < bytes.count, bytes[index] == byte else { return false }
      index += 1
      return true
    }

    /// Reads `{ "key": value, … }`, calling `member` for each key; false on any mismatch.
    mutating func object(_ member: (inout Reader, Key) -> Bool) -> Bool {
      guard take(UInt8(ascii: "{")) else { return false }
      if take(UInt8(ascii: "}")) { return true }
      repeat {
        guard let key = key(), take(UInt8(ascii: ":")), member(&self, key) else { return false }
      } while take(UInt8(ascii: ","))
      return take(UInt8(ascii: "}"))
    }

    /// A member's name, in place: the keys `encode` writes are plain ASCII
    /// without escapes (anything else is left to `JSONDecoder`).
    mutating func key() -> Key? {
      guard take(UInt8(ascii: "\"")) else { return nil }
      var end = index
      while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
        if bytes[end] == UInt8(ascii: "\\") || bytes[end] < 0x20 { return nil }
        end += 1
      }
      guard end < bytes.count else { return nil }
      defer { index = end + 1 }
      return Key(bytes: UnsafeBufferPointer(rebasing: bytes[index..<end]))
    }

    mutating func null() -> Bool {
      skipSpace()
      guard bytes.count - index >= 4, bytes[index] == UInt8(ascii: "n"), bytes[index + 1] == UInt8(ascii: "u"),
        bytes[index + 2] == UInt8(ascii: "l"), bytes[index + 3] == UInt8(ascii: "l")
      else { return false }
      index += 4
      return true
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type = T.self) -> T? {
      skipSpace()
      var negative = false
      if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
        negative = true
        index += 1
      }
      var value: T = 0
      let start = index
      while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
        let digit = T(bytes[index] - UInt8(ascii: "0"))
        let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
        guard !overflow1, !overflow2 else { return nil }
        value = sum
        index += 1
      }
      guard index > start else { return nil }
      // A fraction or an exponent: not what `encode` writes.
      if index < bytes.count {
        switch bytes[index] {
        case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): return nil
        default: break
        }
      }
      return value
    }

    mutating func string() -> String? {
      guard take(UInt8(ascii: "\"")) else { return nil }
      // The common case: no escapes, plain ASCII — one copy, no validation pass.
      var end = index
      var ascii = true
      while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\") {
        if bytes[end] < 0x20 { return nil }
        if bytes[end] >= 0x80 { ascii = false }
        end += 1
      }
      if ascii, end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
        defer { index = end + 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<end]), as: UTF8.self)
      }
      var out: [UInt8] = []
      while index < bytes.count {
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""):
          return String(validating: out, as: UTF8.self)
        case UInt8(ascii: "\\"):
          guard index < bytes.count else { return nil }
          let escaped = bytes[index]
          index += 1
          switch escaped {
          case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
          case UInt8(ascii: "n"): out.append(0x0A)
          case UInt8(ascii: "r"): out.append(0x0D)
          case UInt8(ascii: "t"): out.append(0x09)
          case UInt8(ascii: "b"): out.append(0x08)
          case UInt8(ascii: "f"): out.append(0x0C)
          case UInt8(ascii: "u"):
            // \uXXXX outside the surrogates (JSONEncoder writes it for control characters).
            guard bytes.count - index >= 4 else { return nil }
            var code: UInt32 = 0
            for _ in 0..<4 {
              guard let digit = Self.hexDigit(bytes[index]) else { return nil }
              code = code << 4 | digit
              index += 1
            }
            guard let scalar = Unicode.Scalar(code) else { return nil }  // a surrogate: left to JSONDecoder
            out.append(contentsOf: String(Character(scalar)).utf8)
          default: return nil
          }
        case 0..<0x20:
          return nil
        default:
          out.append(byte)
        }
      }
      return nil
    }

    static func hexDigit(_ byte: UInt8) -> UInt32? {
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
      case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
      default: nil
      }
    }

    mutating func stepState() -> StepProgress? {
      var status: StepProgress.Status?
      var attempts: UInt32?
      var usage: StepUsage?
      var committed: Int64?
      var saved: Int64?
      var lastError: String?
      var lastErrorClass: FailureKind?
      var started: Int64?
      var finished: Int64?
      var artifactBytes: UInt64?
      var waitReason: String?
      var nextAttempt: Int64?
      var given: GivenContext?
      var itemsTotal: Int?
      let ok = object { reader, key in
        switch key {
        case "artifactBytes": artifactBytes = reader.integer()
        case "attempts": attempts = reader.integer()
        case "committedCostMicros": committed = reader.integer()
        case "finishedAtMs": finished = reader.integer()
        case "startedAtMs": started = reader.integer()
        case "savedMicros": saved = reader.integer()
        case "nextAttemptAtMs": nextAttempt = reader.integer()
        case "itemsTotal": return reader.setNullable(&itemsTotal) { $0.integer() }
        case "status": return reader.set(&status) { $0.string().flatMap(StepProgress.Status.init(rawValue:)) }
        case "lastError": return reader.setNullable(&lastError) { $0.string() }
        case "waitReason": return reader.setNullable(&waitReason) { $0.string() }
        case "lastErrorClass": return reader.setNullable(&lastErrorClass) { $0.string().flatMap(FailureKind.init(rawValue:)) }
        case "usage": return reader.set(&usage) { $0.usage() }
        case "given": return reader.setNullable(&given) { $0.given() }
        default:
          return false
        }
        return true
      }
      guard ok, let status, let attempts, let usage, let committed, let saved, let started, let finished,
        let artifactBytes, let nextAttempt
      else { return nil }
      return StepProgress(
        status: status, attempts: attempts, usage: usage, committedCostMicros: committed, savedMicros: saved,
        lastError: lastError, lastErrorClass: lastErrorClass, startedAtMs: started, finishedAtMs: finished,
        artifactBytes: artifactBytes, waitReason: waitReason, nextAttemptAtMs: nextAttempt, given: given,
        itemsTotal: itemsTotal)
    }

    /// Stores what `read` reads in `slot`; false (a malformed document) when it reads nothing.
    mutating func set<T>(_ slot: inout T?, _ read: (inout Self) -> T?) -> Bool {
      slot = read(&self)
      return slot != nil
    }

    /// As `set`, but a JSON null is accepted too, and leaves `slot` nil.
    mutating func setNullable<T>(_ slot: inout T?, _ read: (inout Self) -> T?) -> Bool {
      null() || set(&slot, read)
    }

    mutating func usage() -> StepUsage? {
      var cost: Int64?
      var input: UInt64?
      var output: UInt64?
      var cached: UInt64? = 0
      var cacheWrite: UInt64? = 0
      let ok = object { reader, key in
        switch key {
        case "costMicros": cost = reader.integer()
        case "inputTokens": input = reader.integer()
        case "outputTokens": output = reader.integer()
        case "cachedInputTokens": cached = reader.integer()
        case "cacheWriteTokens": cacheWrite = reader.integer()
        default: return false
        }
        return true
      }
      guard ok, let cost, let input, let output, let cached, let cacheWrite else { return nil }
      return StepUsage(
        inputTokens: input, outputTokens: output, cachedInputTokens: cached, cacheWriteTokens: cacheWrite,
        costMicros: cost)
    }

    mutating func given() -> GivenContext? {
      var historyBytes: UInt64?
      var historyMessages: UInt32?
      var inputs: [GivenContext.Input]?
      let ok = object { reader, key in
        switch key {
        case "historyBytes": historyBytes = reader.integer()
        case "historyMessages": historyMessages = reader.integer()
        case "inputs": return reader.set(&inputs) { $0.inputs() }
        default: return false
        }
        return true
      }
      guard ok, let historyBytes, let historyMessages, let inputs else { return nil }
      return GivenContext(inputs: inputs, historyMessages: historyMessages, historyBytes: historyBytes)
    }

    mutating func inputs() -> [GivenContext.Input]? {
      guard take(UInt8(ascii: "[")) else { return nil }
      var inputs: [GivenContext.Input] = []
      if take(UInt8(ascii: "]")) { return inputs }
      repeat {
        var name: String?
        var bytes: UInt64?
        let ok = object { reader, key in
          switch key {
          case "name": return reader.set(&name) { $0.string() }
          case "bytes": bytes = reader.integer()
          default: return false
          }
          return true
        }
        guard ok, let name, let bytes else { return nil }
        inputs.append(GivenContext.Input(name: name, bytes: bytes))
      } while take(UInt8(ascii: ","))
      return take(UInt8(ascii: "]")) ? inputs : nil
    }
  }
}
