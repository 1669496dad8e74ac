public import Histogram

/// Latencies and failures of one part of a run (one session, or all of them merged).
///
/// Latencies are kept in an HdrHistogram in microseconds, from 1 µs to one minute with three
/// significant digits; slower answers are recorded as one minute.
public struct LatencyRecorder: Sendable {
    public private(set) var histogram: Histogram<UInt64>
    /// Failures by their stable name (`server_busy`, `timeout`, ...).
    public private(set) var errors: [String: Int] = [:]

    public static let highestMicroseconds: UInt64 = 60_000_000

    public init() {
        self.histogram = Histogram(lowestDiscernibleValue: 1, highestTrackableValue: Self.highestMicroseconds, numberOfSignificantValueDigits: .three)
    }

    public var completed: Int { Int(self.histogram.totalCount) }
    public var errorCount: Int { self.errors.values.reduce(0, +) }

    public mutating func record(latencyNs: Int64) {
        let microseconds = UInt64(max(1, latencyNs / 1000))
        _ = self.histogram.record(min(microseconds, Self.highestMicroseconds))
    }

    public mutating func recordError(_ name: String) {
        self.errors[name, default: 0] += 1
    }

    public mutating func merge(_ other: LatencyRecorder) {
        self.histogram.add(other.histogram)
        self.errors.merge(other.errors, uniquingKeysWith: +)
    }

    /// The percentile (0 to 100) in milliseconds; 0 with no samples.
    public func percentileMs(_ percentile: Double) -> Double {
        guard self.histogram.totalCount > 0 else { return 0 }
        return Double(self.histogram.valueAtPercentile(percentile)) / 1000
    }

    /// The statistics reported for a run of `elapsedSeconds`.
    public func summary(elapsedSeconds: Double) -> LatencySummary {
        precondition(elapsedSeconds > 0)
        let count = self.completed
        return LatencySummary(
            completed: count, throughputPerSecond: Double(count) / elapsedSeconds,
            p50Ms: self.percentileMs(50), p90Ms: self.percentileMs(90), p99Ms: self.percentileMs(99),
            p999Ms: self.percentileMs(99.9),
            maxMs: count > 0 ? Double(self.histogram.max) / 1000 : 0,
            meanMs: count > 0 ? self.histogram.mean / 1000 : 0,
            errors: self.errors)
    }
}

/// Throughput and latency percentiles of a measured run.
public struct LatencySummary: Hashable, Sendable {
    public var completed: Int
    public var throughputPerSecond: Double
    public var p50Ms: Double
    public var p90Ms: Double
    public var p99Ms: Double
    public var p999Ms: Double
    public var maxMs: Double
    public var meanMs: Double
    public var errors: [String: Int]
    /// CPU time of the server process per completed operation, when the bench started the server.
    public var serverCPUMicrosecondsPerOperation: Double?
    /// CPU time of the load generator per completed operation.
    public var benchCPUMicrosecondsPerOperation: Double?
}
