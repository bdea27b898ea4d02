import ArgumentParser
import Foundation
import ResumableClient
public import ResumableWire

/// `resumable workers`: the workers connected to the server.
struct Workers: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List the workers connected to the server: their tasks, slots and tasks in flight.",
    discussion: "Workers are processes of yours that run `plugin: worker` steps (see the Python SDK's Worker).")

  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var output: OutputOptions

  func run() async throws {
    let response = try await connection.call { client, timeout throws(ResumableClientError) in
      try await client.listWorkers(ListWorkersRequest(), timeout: timeout)
    }
    print(output.json ? WorkerListRendering.json(response) : WorkerListRendering.text(response))
  }
}

/// How the CLI prints the connected workers (`resumable workers`).
public enum WorkerListRendering {
  /// A table, oldest connection first.
  public static func text(_ response: ListWorkersResponse) -> String {
    guard !response.workers.isEmpty else {
      return "No workers connected. A `plugin: worker` step waits until one serving its task connects."
    }
    let rows =
      [["WORKER", "NAME", "PID", "SLOTS", "IN FLIGHT", "DISPATCHED", "CONNECTED", "TASKS"]]
      + response.workers.map { worker in
        [
          worker.workerID, worker.name.isEmpty ? "-" : worker.name, worker.pid == 0 ? "-" : "\(worker.pid)",
          worker.draining ? "\(worker.slots) (draining)" : "\(worker.slots)", "\(worker.inFlight)", "\(worker.dispatched)",
          RunStateRendering.timestamp(unixMilliseconds: worker.connectedAtMs) ?? "-",
          worker.tasks.joined(separator: ","),
        ]
      }
    return RunStateRendering.table(rows, leftAligned: 3).joined(separator: "\n")
  }

  /// `{"workers": [...]}`.
  public static func json(_ response: ListWorkersResponse) -> String {
    let workers: [[String: Any]] = response.workers.map { worker in
      [
        "worker_id": worker.workerID, "name": worker.name, "pid": worker.pid == 0 ? NSNull() : Int(worker.pid),
        "tasks": worker.tasks, "slots": Int(worker.slots), "in_flight": Int(worker.inFlight), "draining": worker.draining,
        "dispatched": Int(clamping: worker.dispatched),
        "connected_at": RunStateRendering.timestampOrNull(worker.connectedAtMs),
      ]
    }
    return RunStateRendering.serialize(["workers": workers])
  }
}
