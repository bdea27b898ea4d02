/// Something that happened to a run, as its event log records it: every
/// write of a run appends one (`run_started`, `attempt_started`,
/// `attempt_failed`, `step_waiting`, `step_committed`, `run_failed`,
/// `run_resumed`, …). New types may appear; readers show an unknown one as it is.
public struct RunEventRecord: Hashable, Sendable {
  /// What happened, e.g. `step_committed`.
  public var type: String
  /// The step it concerns.
  public var step: String
  /// The attempt it concerns (0: none).
  public var attempt: UInt32
  /// When it happened, Unix milliseconds.
  public var atMs: Int64
  /// An attempt's error, a wait's reason, an approval's note (empty: none).
  public var message: String
  /// When the next attempt may start (0: not set).
  public var nextAttemptAtMs: Int64
  /// The run's status after the event (nil: the event does not say).
  public var status: RunRecord.Status?

  public init(
    type: String, step: String = "", attempt: UInt32 = 0, atMs: Int64 = 0, message: String = "",
    nextAttemptAtMs: Int64 = 0, status: RunRecord.Status? = nil
  ) {
    self.type = type
    self.step = step
    self.attempt = attempt
    self.atMs = atMs
    self.message = message
    self.nextAttemptAtMs = nextAttemptAtMs
    self.status = status
  }
}

/// The events of a run after a position in its log, with the run's status
/// read in the same atomic snapshot.
public struct RunEventBatch: Hashable, Sendable {
  /// The events in order, each with its position in the log.
  public var events: [(position: String, event: RunEventRecord)]
  /// The run's status when the batch was read.
  public var status: RunRecord.Status

  public init(events: [(position: String, event: RunEventRecord)], status: RunRecord.Status) {
    self.events = events
    self.status = status
  }

  public static func == (lhs: RunEventBatch, rhs: RunEventBatch) -> Bool {
    lhs.status == rhs.status && lhs.events.map(\.position) == rhs.events.map(\.position)
      && lhs.events.map(\.event) == rhs.events.map(\.event)
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(status)
    hasher.combine(events.map(\.position))
  }
}

/// A run's event log, for watchers. Every write of a run appends an event in
/// the same atomic write, so an unchanged last position means an unchanged
/// run. Positions are opaque to readers (Redis stream ids in `RedisStateStore`).
public protocol RunEventLog: Sendable {
  /// The position of the run's newest event (`origin` when it has none).
  func lastEventPosition(workflowID: String) async throws(StoreError) -> String

  /// Up to `limit` events after `position`, oldest first, with the run's
  /// status; nil when no run has that id (or it expired).
  func events(workflowID: String, after position: String, limit: Int) async throws(StoreError) -> RunEventBatch?
}

extension RunRecord.Status {
  /// Whether a watch of the run ends: COMPLETED, FAILED or CANCELLED. A run
  /// AWAITING_APPROVAL (or AWAITING_BUDGET) goes on once answered, so a watch follows it.
  public var endsWatch: Bool {
    switch self {
    case .completed, .failed, .cancelled: true
    case .running, .awaitingApproval, .awaitingBudget: false
    }
  }
}
