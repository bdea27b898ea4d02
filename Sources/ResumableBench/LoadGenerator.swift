import Synchronization
import ResumableClient

/// Closed-loop load: `clients.count` workers, each with its own connection,
/// each making one call at a time for a fixed time. Calls that finish inside
/// the measured window (after the warm-up) count for the throughput and the
/// latencies.
enum LoadGenerator {
  struct Result: Sendable {
    var latency: LatencySamples
    var perSecond: Double
    var errors: Int
    var firstError: String?
  }

  /// - Parameter window: called when the measured window opens (`true`) and
  ///   when it closes (`false`), e.g. to sample CPU counters.
  static func run(
    clients: [ResumableClient], warmup: Duration, duration: Duration,
    window: (@Sendable (_ opens: Bool) async -> Void)? = nil,
    _ call: @escaping @Sendable (ResumableClient, _ worker: Int, _ iteration: Int) async throws -> Void
  ) async -> Result {
    let start = ContinuousClock.now
    let measuredFrom = start + warmup
    let end = measuredFrom + duration
    // A worker whose calls are slower than the window (a loaded machine) goes on
    // until one of its calls finishes inside the measured span, for up to 30 s
    // more; the rate is over the span the counted calls actually took.
    let hardEnd = end + .seconds(30)
    let lastFinish = LatestInstant(end)
    let results = await withTaskGroup(of: (LatencySamples, Int, String?).self) { group in
      if let window {
        group.addTask {
          try? await Task.sleep(until: measuredFrom, clock: .continuous)
          await window(true)
          try? await Task.sleep(until: end, clock: .continuous)
          await window(false)
          return (LatencySamples(), 0, nil)
        }
      }
      for (worker, client) in clients.enumerated() {
        group.addTask {
          var samples = LatencySamples()
          var errors = 0
          var firstError: String?
          var iteration = 0
          while ContinuousClock.now < end || (samples.count == 0 && ContinuousClock.now < hardEnd) {
            let began = ContinuousClock.now
            do {
              try await call(client, worker, iteration)
            } catch {
              errors += 1
              if firstError == nil { firstError = "\(error)" }
            }
            let finished = ContinuousClock.now
            if finished >= measuredFrom && (finished <= end || samples.count == 0) {
              samples.record(finished - began)
              if finished > end { lastFinish.raise(to: finished) }
            }
            iteration += 1
          }
          return (samples, errors, firstError)
        }
      }
      var all = LatencySamples()
      var errors = 0
      var firstError: String?
      for await (samples, workerErrors, workerFirst) in group {
        all.merge(samples)
        errors += workerErrors
        firstError = firstError ?? workerFirst
      }
      return (all, errors, firstError)
    }
    return Result(
      latency: results.0, perSecond: Double(results.0.count) / (lastFinish.value - measuredFrom).seconds,
      errors: results.1,
      firstError: results.2)
  }

  /// Opens `count` connections to the server.
  static func connect(_ count: Int, socketPath: String) async throws -> [ResumableClient] {
    var clients: [ResumableClient] = []
    for _ in 0..<count {
      clients.append(try await ResumableClient.connect(socketPath: socketPath))
    }
    return clients
  }

  static func close(_ clients: [ResumableClient]) async {
    for client in clients { await client.close() }
  }

  /// Runs `body` with `count` connections, closed afterwards.
  static func withClients<T>(
    _ count: Int, socketPath: String, _ body: ([ResumableClient]) async throws -> T
  ) async throws -> T {
    let clients = try await connect(count, socketPath: socketPath)
    do {
      let result = try await body(clients)
      await close(clients)
      return result
    } catch {
      await close(clients)
      throw error
    }
  }

  /// Runs `count` calls with at most `concurrency` at once (untimed set-up work).
  static func forEach(
    _ count: Int, concurrency: Int, clients: [ResumableClient],
    _ body: @escaping @Sendable (ResumableClient, Int) async throws -> Void
  ) async throws {
    let workers = min(concurrency, clients.count)
    try await withThrowingTaskGroup(of: Void.self) { group in
      for worker in 0..<workers {
        let client = clients[worker]
        group.addTask {
          for index in stride(from: worker, to: count, by: workers) {
            try await body(client, index)
          }
        }
      }
      try await group.waitForAll()
    }
  }
}

extension Duration {
  /// The duration in seconds, as a `Double`.
  var seconds: Double {
    let (seconds, attoseconds) = components
    return Double(seconds) + Double(attoseconds) / 1e18
  }
}

/// The latest of the instants it is told of, shared by the load's workers.
private final class LatestInstant: Sendable {
  private let latest: Mutex<ContinuousClock.Instant>

  init(_ instant: ContinuousClock.Instant) { latest = Mutex(instant) }

  var value: ContinuousClock.Instant { latest.withLock { $0 } }

  func raise(to instant: ContinuousClock.Instant) { latest.withLock { $0 = max($0, instant) } }
}
