/// Latencies recorded one by one, with exact percentiles.
///
/// Every sample is kept (nanoseconds, 8 bytes each) and sorted once when a
/// summary is asked for, so a percentile is the sample at its rank — exact,
/// not an approximation from buckets. A benchmark here records at most a few
/// hundred thousand samples, a few MB.
public struct LatencySamples: Sendable {
  private var nanoseconds: [UInt64] = []

  public init() {}

  /// The number of samples.
  public var count: Int { nanoseconds.count }

  /// Records one latency.
  public mutating func record(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    nanoseconds.append(UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000))
  }

  /// Adds every sample of `other`.
  public mutating func merge(_ other: LatencySamples) {
    nanoseconds.append(contentsOf: other.nanoseconds)
  }

  /// The percentiles of the samples so far.
  public func summary() -> LatencySummary {
    LatencySummary(sortedNanoseconds: nanoseconds.sorted())
  }
}

/// Percentiles of a set of latencies, in microseconds.
public struct LatencySummary: Sendable, Codable, Hashable {
  public var count: Int
  public var meanMicros: Double
  public var p50Micros: Double
  public var p99Micros: Double
  public var p999Micros: Double
  public var maxMicros: Double

  /// The nearest-rank percentile: the smallest sample with at least `q` of
  /// the samples at or below it.
  init(sortedNanoseconds sorted: [UInt64]) {
    count = sorted.count
    func micros(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1000 }
    func rank(_ q: Double) -> Double {
      guard !sorted.isEmpty else { return 0 }
      let index = Int((q * Double(sorted.count)).rounded(.up)) - 1
      return micros(sorted[min(max(index, 0), sorted.count - 1)])
    }
    meanMicros = sorted.isEmpty ? 0 : Double(sorted.reduce(0, +)) / Double(sorted.count) / 1000
    p50Micros = rank(0.5)
    p99Micros = rank(0.99)
    p999Micros = rank(0.999)
    maxMicros = sorted.last.map(micros) ?? 0
  }

  /// The summary with every latency divided by `divisor` (e.g. per step of a run).
  public func divided(by divisor: Double) -> LatencySummary {
    var copy = self
    copy.meanMicros /= divisor
    copy.p50Micros /= divisor
    copy.p99Micros /= divisor
    copy.p999Micros /= divisor
    copy.maxMicros /= divisor
    return copy
  }
}
