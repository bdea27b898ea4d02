import NIOCore
import NIOPosix
import Synchronization

/// An event loop as a Swift `TaskExecutor`: a task that prefers it runs its
/// jobs on that loop's thread. The engine spreads a map step's lanes over one
/// per loop (`EngineConfiguration.laneExecutors`), so that the items of a map
/// use every core while each lane's Redis round trips stay on its own loop
/// (the Redis client gives a caller the connection on the caller's loop).
///
/// One executor per loop (`shared(for:)`): a task that already runs on a
/// loop's executor continues inline when it resumes there, where two
/// executors of the same loop would still queue the job behind the loop's
/// other work.
final class EventLoopExecutor: TaskExecutor {
  let eventLoop: any EventLoop

  private init(_ eventLoop: any EventLoop) {
    self.eventLoop = eventLoop
  }

  private static let executors = Mutex<[ObjectIdentifier: EventLoopExecutor]>([:])

  /// The executor of `eventLoop`.
  static func shared(for eventLoop: any EventLoop) -> EventLoopExecutor {
    executors.withLock { executors in
      let key = ObjectIdentifier(eventLoop)
      if let executor = executors[key] { return executor }
      let executor = EventLoopExecutor(eventLoop)
      executors[key] = executor
      return executor
    }
  }

  /// The executor of each loop of `group`.
  static func all(of group: MultiThreadedEventLoopGroup) -> [EventLoopExecutor] {
    group.makeIterator().map(shared(for:))
  }

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    eventLoop.execute {
      job.runSynchronously(on: self.asUnownedTaskExecutor())
    }
  }
}
