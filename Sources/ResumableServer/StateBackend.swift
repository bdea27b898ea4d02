public import Logging
public import ResumableCore

/// Where a server keeps its state: opened once, before anything is served,
/// and closed after everything else has stopped.
///
/// `RedisStateBackend` is the product's; `StoreBackend` serves a store that is
/// ready already (one a program or a test built).
public protocol StateBackend: Sendable {
  /// Starts what the store needs (a private `redis-server`, a connection)
  /// and returns the store.
  /// - Throws: `ServerError` when the server cannot start on this backend.
  func open(logger: Logger) async throws -> OpenedState
}

/// A backend's store, ready, and how to close what opening it started.
public struct OpenedState: Sendable {
  /// The runs' state.
  public var store: any StateStore
  /// A warning `Health` adds about the store (Redis' eviction policy, say);
  /// nil when there is none.
  public var healthNote: @Sendable () async -> String?
  /// Stops what `open` started, in the order it started them: the server runs
  /// them in reverse, last of all at shutdown, or at once when its start fails.
  public var closers: [@Sendable () async -> Void]

  public init(
    store: any StateStore, healthNote: @escaping @Sendable () async -> String? = { nil },
    closers: [@Sendable () async -> Void] = []
  ) {
    self.store = store
    self.healthNote = healthNote
    self.closers = closers
  }
}

/// A store that is open already: the server uses it and closes nothing.
public struct StoreBackend: StateBackend {
  public let store: any StateStore

  public init(_ store: any StateStore) {
    self.store = store
  }

  public func open(logger: Logger) async throws -> OpenedState {
    OpenedState(store: store)
  }
}
