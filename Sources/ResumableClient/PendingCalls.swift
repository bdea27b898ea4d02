import NIOCore
import ResumableWire
import Synchronization

/// The calls of one connection that wait for their response, by request id.
///
/// Shared by the callers (which register and time out calls) and the channel's
/// ``ResponseHandler`` (which completes them, or fails them all when the connection ends).
/// Every continuation is resumed exactly once: whoever removes a waiter from the table resumes it,
/// outside the lock.
final class PendingCalls: Sendable {
  typealias Continuation = CheckedContinuation<Result<Envelope, ResumableClientError>, Never>
  /// Where the frames of a server-streaming call go, each as it arrives.
  typealias StreamContinuation = AsyncStream<Result<Envelope, ResumableClientError>>.Continuation

  private struct Waiter {
    var continuation: Continuation
    var timer: Scheduled<Void>?
  }

  /// A struct rather than an enum of open/closed so that inserting a waiter never copies the table;
  /// the transition is one way: once `closedWith` is set, the table stays empty.
  private struct State {
    var waiters: [UInt64: Waiter] = [:]
    /// Server-streaming calls, until their last frame (or an error) arrives.
    var streams: [UInt64: StreamContinuation] = [:]
    /// Set when the connection is gone: new calls fail at once with this error.
    var closedWith: ResumableClientError?
  }

  private let state = Mutex(State())
  private let lastRequestID = Atomic<UInt64>(0)

  /// A request id not used before on this connection (never 0, which is reserved).
  func nextRequestID() -> UInt64 {
    lastRequestID.wrappingAdd(1, ordering: .relaxed).newValue
  }

  /// Adds a call waiting for its response, or resumes it at once with an error when the
  /// connection is closed, the calling task is cancelled, or the deadline has passed.
  /// - Returns: Whether the call is now waiting (and its request should be sent).
  func register(
    _ id: UInt64, _ continuation: Continuation, deadline: NIODeadline?,
    timer: Scheduled<Void>?, deadlineError: @autoclosure () -> ResumableClientError
  ) -> Bool {
    let failure: ResumableClientError? = state.withLock { state in
      if let closed = state.closedWith { return closed }
      if Task.isCancelled { return .callCancelled }
      if let deadline, deadline <= .now() { return deadlineError() }
      state.waiters[id] = Waiter(continuation: continuation, timer: timer)
      return nil
    }
    guard let failure else { return true }
    timer?.cancel()
    continuation.resume(returning: .failure(failure))
    return false
  }

  /// Adds a server-streaming call, or fails its stream at once when the connection is closed.
  /// - Returns: Whether the call is now waiting (and its request should be sent).
  func registerStream(_ id: UInt64, _ continuation: StreamContinuation) -> Bool {
    let failure: ResumableClientError? = state.withLock { state in
      if let closed = state.closedWith { return closed }
      state.streams[id] = continuation
      return nil
    }
    guard let failure else { return true }
    continuation.yield(.failure(failure))
    continuation.finish()
    return false
  }

  /// Forgets a streaming call whose caller stopped listening; its later frames are ignored.
  func removeStream(_ id: UInt64) {
    state.withLock { $0.streams.removeValue(forKey: id) }?.finish()
  }

  /// Completes the call `id` with a response frame, or passes the frame to its stream (which
  /// ends with a frame that has `endOfStream` or an error status); unknown ids (calls that timed
  /// out or were cancelled already) are ignored.
  func succeed(_ id: UInt64, with envelope: Envelope) {
    let (stream, last) = state.withLock { state in
      guard let stream = state.streams[id] else { return (StreamContinuation?.none, false) }
      let last = envelope.endOfStream || envelope.statusCode != .ok
      if last { state.streams[id] = nil }
      return (stream, last)
    }
    guard let stream else {
      resume(id, with: .success(envelope))
      return
    }
    stream.yield(.success(envelope))
    if last { stream.finish() }
  }

  /// Fails the call `id`, if it is still waiting.
  func fail(_ id: UInt64, with error: ResumableClientError) {
    if let stream = state.withLock({ $0.streams.removeValue(forKey: id) }) {
      stream.yield(.failure(error))
      stream.finish()
      return
    }
    resume(id, with: .failure(error))
  }

  /// Fails every waiting call with `error`, and from now on every new call with `closedWith`.
  func failAll(with error: ResumableClientError, closedWith: ResumableClientError? = nil) {
    let (waiters, streams) = state.withLock { state in
      if state.closedWith == nil { state.closedWith = closedWith ?? error }
      defer { (state.waiters, state.streams) = ([:], [:]) }
      return (state.waiters, state.streams)
    }
    for waiter in waiters.values {
      waiter.timer?.cancel()
      waiter.continuation.resume(returning: .failure(error))
    }
    for stream in streams.values {
      stream.yield(.failure(error))
      stream.finish()
    }
  }

  private func resume(_ id: UInt64, with result: Result<Envelope, ResumableClientError>) {
    guard let waiter = state.withLock({ $0.waiters.removeValue(forKey: id) }) else { return }
    waiter.timer?.cancel()
    waiter.continuation.resume(returning: result)
  }
}

extension ResumableClientError {
  /// The calling task was cancelled.
  static let callCancelled = ResumableClientError(
    code: .cancelled, message: "the call was cancelled by its caller")
}
