/// Settings of a `WorkflowEngine`, with production defaults.
public struct EngineConfiguration: Sendable {
  /// How long every key of a run lives after its last progress (default 24 h).
  public var ttl: Duration = .seconds(86_400)
  /// How long a runner's lease lasts without renewal; a crashed runner's run
  /// can be taken over this long after its last sign of life (default 15 s).
  public var leaseDuration: Duration = .seconds(15)
  /// The largest workflow input accepted, in bytes (default 1 MiB); a
  /// workflow's `max_input_bytes` overrides it.
  public var maximumInputBytes = 1 << 20
  /// The largest artifact a step may produce, in bytes (default 1 MiB); a
  /// larger one fails the step without retry. It bounds the history a step
  /// appends too. A step's (or its workflow's) `max_artifact_bytes` overrides it.
  public var maximumArtifactBytes = 1 << 20
  /// How many history messages a run keeps; older ones are trimmed (default
  /// 1000). A workflow's `history_max_messages` overrides it.
  public var maximumHistoryMessages = 1000
  /// Circuit breakers by plugin name (from the definitions file's `plugins`).
  public var circuitBreakers: [String: CircuitBreakerPolicy] = [:]
  /// The circuit breaker of plugins without their own (default: 5
  /// consecutive failures open it for 30 s); nil: no breaker for them.
  public var defaultCircuitBreaker: CircuitBreakerPolicy? = CircuitBreakerPolicy()
  /// How long a runner keeps retrying a store write while Redis is
  /// unreachable before it leaves the run for recovery (default: the lease).
  public var storeRetryWindow: Duration? = nil
  /// Runs this engine drives at once (default 256); starting or resuming one
  /// more answers `RESOURCE_EXHAUSTED` (`resumable serve --max-runs`).
  public var maximumActiveRuns = 256
  /// How often a caller waiting on a run driven by another server re-reads it.
  public var remotePollInterval: Duration = .milliseconds(50)
  /// How long a re-run waits for this server's own drive of the run to release
  /// its lease, after the drive has answered the run's end (real time; default
  /// 1 s). Past it the re-run is answered `ABORTED`.
  public var endedLeasePatience: Duration = .seconds(1)
  /// How often the recovery loop looks for RUNNING runs whose runner's lease
  /// lapsed (their server died) to take them over; nil turns it off (default
  /// 1 s). A run is recovered about one lease duration after its runner's
  /// last sign of life, plus up to one interval.
  public var recoveryInterval: Duration? = .seconds(1)

  /// How long a run is kept after it ends, by outcome (nil: `ttl`). Runs still
  /// active are kept `ttl` after their last progress.
  public var retentionCompleted: Duration? = nil
  public var retentionFailed: Duration? = nil
  public var retentionCancelled: Duration? = nil

  /// The expiry a write sets: the retention of the status it ends the run with, else `ttl`.
  public func retention(_ ending: RunRecord.Status?) -> Duration {
    switch ending {
    case .completed?: retentionCompleted ?? ttl
    case .failed?: retentionFailed ?? ttl
    case .cancelled?: retentionCancelled ?? ttl
    default: ttl
    }
  }

  /// How long a run waits for a person's approval before it fails (default 24 h;
  /// a step's `approval_timeout_ms` overrides it).
  public var approvalTimeout: Duration = .seconds(86_400)

  /// What every server on the store may spend together in any hour, in
  /// micro-dollars (`--max-spend-per-hour`); past it, attempts wait (WAITING)
  /// until the window allows. nil: no cap.
  public var maxSpendPerHourMicros: Int64? = nil

  /// Executors the runs' drivers, and the lanes of a map step, are spread
  /// over, in turn (the server gives one per event loop, so that runs and a
  /// map's items use every core while each one's Redis round trips stay on its
  /// own loop); empty: the global concurrent executor.
  public var laneExecutors: [any TaskExecutor] = []

  public init() {}
}
