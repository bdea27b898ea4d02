public import NIOCore
public import NIOPosix
import Synchronization

/// An event loop as a Swift `TaskExecutor`: a task that prefers it runs its
/// jobs on that loop's thread. The server's engine spreads its runs (and a map
/// step's lanes) over one per loop (`EngineConfiguration.laneExecutors`), so
/// that each one's Redis round trips stay on its own loop (the Redis client
/// gives a caller the connection on the caller's loop); a client's worker loop
/// prefers its connection's (`ResumableClient.executor`).
///
/// One executor per loop (`shared(for:)`): a task that already runs on a
/// loop's executor continues inline when it resumes there, where two
/// executors of the same loop would still queue the job behind the loop's
/// other work.
public final class EventLoopExecutor: TaskExecutor {
  public let eventLoop: any EventLoop

  private init(_ eventLoop: any EventLoop) {
    self.eventLoop = eventLoop
  }

  private static let executors = Mutex<[ObjectIdentifier: EventLoopExecutor]>([:])

  /// The executor of `eventLoop`.
  public static func shared(for eventLoop: any EventLoop) -> EventLoopExecutor {
    executors.withLock { executors in
      let key = ObjectIdentifier(eventLoop)
      if let executor = executors[key] { return executor }
      let executor = EventLoopExecutor(eventLoop)
      executors[key] = executor
      return executor
    }
  }

  /// The executor of each loop of `group`.
  public static func all(of group: MultiThreadedEventLoopGroup) -> [EventLoopExecutor] {
    group.makeIterator().map(shared(for:))
  }

  public func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    eventLoop.execute {
      job.runSynchronously(on: self.asUnownedTaskExecutor())
    }
  }
}
