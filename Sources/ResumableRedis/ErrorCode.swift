/// The kind of an error of `Domain` (`RedisError.Code`, `RedisServerError.Code`):
/// a name from an open set, so that kinds can be added without breaking a
/// caller's `switch` (which needs a `default`). Each domain declares its kinds
/// as static values in an extension.
public struct ErrorCode<Domain>: Hashable, Sendable, CustomStringConvertible {
  private let name: String

  init(_ name: String) { self.name = name }

  public var description: String { name }
}
