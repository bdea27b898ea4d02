package import NIOCore
import Synchronization

/// Hands accepted connections from the listening socket to the accept loop
/// (`SocketListener` to `ConnectionService`; package access, for the client
/// tests' scripted server uses the same accept path),
/// losing none.
///
/// SwiftNIO's async `bind` buffers accepted `NIOAsyncChannel`s in a stream; one
/// still buffered when the accept loop stops is dropped without
/// `executeThenClose`, and NIO traps ("Deinited NIOAsyncWriter without calling
/// finish()", apple/swift-nio#2637). Here the child initializer offers each
/// connection under a lock: after `close()` the offer is refused, the
/// initializer fails, and NIO closes that connection before it becomes active
/// (which finishes its writer); everything offered before is either served or
/// returned by `close()` for the caller to close.
///
/// Use it with the future-based `ServerBootstrap.bind`:
/// ```swift
/// let accepted = AcceptedConnections<ByteBuffer, ByteBuffer>()
/// let server = try await ServerBootstrap(group: group)
///   .childChannelInitializer { channel in
///     channel.eventLoop.makeCompletedFuture {
///       let connection = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
///       guard accepted.offer(connection) else { throw ChannelError.ioOnClosedChannel }
///     }
///   }
///   .bind(unixDomainSocketPath: path).get()
/// while let connection = await accepted.next() { … connection.executeThenClose … }
/// // on shutdown:
/// try await server.close()
/// await accepted.closeRemaining()
/// ```
/// - Important: always call `closeRemaining()` (or `close()`, closing what it
///   returns) once the server channel is closed.
package final class AcceptedConnections<Inbound: Sendable, Outbound: Sendable>: Sendable {
  /// One accepted connection.
  package typealias Connection = NIOAsyncChannel<Inbound, Outbound>

  private struct State {
    var buffer: [Connection] = []
    var waiter: CheckedContinuation<Connection?, Never>?
    var closed = false
  }

  private let state = Mutex(State())

  /// An open queue.
  package init() {}

  /// Called by the child channel initializer. False once closed: the caller
  /// must then fail the initializer.
  package func offer(_ connection: Connection) -> Bool {
    let handed: CheckedContinuation<Connection?, Never>?? = state.withLock { state in
      guard !state.closed else { return .none }
      if let waiter = state.waiter {
        state.waiter = nil
        return .some(waiter)
      }
      state.buffer.append(connection)
      return .some(nil)
    }
    switch handed {
    case .none: return false
    case .some(let waiter?): waiter.resume(returning: connection)
    case .some(nil): break
    }
    return true
  }

  /// The next connection; nil once closed and empty, or when the waiting
  /// task is cancelled.
  package func next() async -> Connection? {
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Connection?, Never>) in
        let now: Connection?? = state.withLock { state in
          if !state.buffer.isEmpty { return .some(state.buffer.removeFirst()) }
          if state.closed || Task.isCancelled { return .some(nil) }
          state.waiter = continuation
          return .none
        }
        if let now { continuation.resume(returning: now) }
      }
    } onCancel: {
      let waiter = state.withLock { state in
        defer { state.waiter = nil }
        return state.waiter
      }
      waiter?.resume(returning: nil)
    }
  }

  /// Refuses further offers and wakes the accept loop; returns the
  /// connections nobody took, which the caller must close.
  package func close() -> [Connection] {
    let (waiter, leftovers) = state.withLock { state in
      state.closed = true
      defer {
        state.waiter = nil
        state.buffer = []
      }
      return (state.waiter, state.buffer)
    }
    waiter?.resume(returning: nil)
    return leftovers
  }

  /// Refuses further offers, wakes the accept loop, and closes the
  /// connections nobody took.
  package func closeRemaining() async {
    for leftover in close() {
      try? await leftover.executeThenClose { _, _ in }
    }
  }
}
