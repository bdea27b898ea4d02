/// One message of a run's history: the raw LLM conversation, kept apart from
/// the artifacts.
///
/// Plugins append messages with `StepOutput.history`; the store appends them
/// when the step commits (never rewriting what is stored) and trims the
/// oldest past the workflow's cap. A step receives history only as its
/// `HistoryPolicy` says.
public struct HistoryEntry: Hashable, Sendable, Codable {
  /// Who spoke: `system`, `user`, `assistant`, `tool`, …
  public var role: String
  /// The message text.
  public var content: String

  public init(role: String, content: String) {
    self.role = role
    self.content = content
  }

  /// The bytes the message counts for in limits and in what a step was given.
  public var byteCount: Int { role.utf8.count + content.utf8.count }
}

/// How much of the run's history a step receives.
public enum HistoryPolicy: Hashable, Sendable, Codable {
  /// None of it (the default): a step sees only its declared inputs.
  case none
  /// The last `n` messages, oldest first.
  case last(Int)
  /// All of it (up to the run's cap), oldest first.
  case all

  /// Stored as `"none"`, `"all"` or `{"last": n}`, as the definitions file spells it.
  public init(from decoder: any Decoder) throws {
    if let word = try? decoder.singleValueContainer().decode(String.self) {
      switch word {
      case "none": self = .none
      case "all": self = .all
      default:
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown history policy '\(word)'"))
      }
      return
    }
    let members = try decoder.singleValueContainer().decode([String: Int].self)
    guard let count = members["last"], members.count == 1 else {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a history policy object needs only 'last'"))
    }
    self = .last(count)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .none: try container.encode("none")
    case .all: try container.encode("all")
    case .last(let count): try container.encode(["last": count])
    }
  }

  /// How many of the newest messages to read: 0 for none, nil for all.
  public var newestCount: Int? {
    switch self {
    case .none: 0
    case .last(let count): count
    case .all: nil
    }
  }
}

/// What a step's attempt was given, recorded in its state so pruning can be
/// seen: each declared input with its size, and the history let through.
public struct GivenContext: Hashable, Sendable, Codable {
  /// One declared input: `input` or an earlier step's name, and its size.
  public struct Input: Hashable, Sendable, Codable {
    public var name: String
    public var bytes: UInt64

    public init(name: String, bytes: UInt64) {
      self.name = name
      self.bytes = bytes
    }
  }

  /// The declared inputs, in declaration order.
  public var inputs: [Input]
  /// How many history messages the step was given.
  public var historyMessages: UInt32
  /// The history's size (roles and contents), in bytes.
  public var historyBytes: UInt64

  public init(inputs: [Input] = [], historyMessages: UInt32 = 0, historyBytes: UInt64 = 0) {
    self.inputs = inputs
    self.historyMessages = historyMessages
    self.historyBytes = historyBytes
  }

  /// The record of `inputs` (in `order`) and `history`.
  public init(inputs: [String: [UInt8]], order: [String], history: [HistoryEntry]) {
    self.init(
      inputs: order.compactMap { name in inputs[name].map { Input(name: name, bytes: UInt64($0.count)) } },
      historyMessages: UInt32(clamping: history.count),
      historyBytes: UInt64(history.reduce(0) { $0 + $1.byteCount }))
  }
}
