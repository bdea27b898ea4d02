import NIOCore
import NIOPosix

/// An event loop as a Swift `TaskExecutor`: a task that prefers it runs its
/// jobs on that loop's thread. The engine spreads a map step's lanes over one
/// per loop (`EngineConfiguration.laneExecutors`), so that the items of a map
/// use every core while each lane's Redis round trips stay on its own loop
/// (the Redis client gives a caller the connection on the caller's loop).
final class EventLoopExecutor: TaskExecutor {
  private let eventLoop: any EventLoop

  init(_ eventLoop: any EventLoop) {
    self.eventLoop = eventLoop
  }

  /// One executor per loop of `group`.
  static func all(of group: MultiThreadedEventLoopGroup) -> [EventLoopExecutor] {
    group.makeIterator().map(EventLoopExecutor.init)
  }

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    eventLoop.execute {
      job.runSynchronously(on: self.asUnownedTaskExecutor())
    }
  }
}
