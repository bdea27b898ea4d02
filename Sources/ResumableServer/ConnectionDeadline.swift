import Logging
import NIOCore

/// A deadline that closes a connection: armed when something begins to wait
/// (a frame's rest, a peer's reading), cancelled when it ends; at the deadline
/// it logs why, counts it and closes the channel.
///
/// - Important: event-loop bound, like the handlers that hold it.
struct ConnectionDeadline {
  let timeout: TimeAmount
  let logger: Logger
  /// The `reason` label of `resumable_connections_closed_by_server_total`.
  let reason: String
  /// What the log says, given the timeout in milliseconds.
  let explanation: @Sendable (Int64) -> String
  private var timer: Scheduled<Void>?

  init(timeout: Duration, logger: Logger, reason: String, explanation: @escaping @Sendable (Int64) -> String) {
    self.timeout = TimeAmount(timeout)
    self.logger = logger
    self.reason = reason
    self.explanation = explanation
  }

  /// Starts the deadline unless it runs already; `stillDue` is asked when it
  /// passes (false: the wait ended without a cancel, nothing is closed).
  mutating func arm(_ context: ChannelHandlerContext, stillDue: @escaping @Sendable (any Channel) -> Bool = { _ in true }) {
    guard timer == nil else { return }
    let (channel, logger, timeout, reason, explanation) = (context.channel, logger, timeout, reason, explanation)
    timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
      guard stillDue(channel) else { return }
      logger.notice("\(explanation(timeout.nanoseconds / 1_000_000))")
      ServerMetrics.connectionClosedByServer(reason: reason)
      channel.close(promise: nil)
    }
  }

  mutating func cancel() {
    timer?.cancel()
    timer = nil
  }
}
