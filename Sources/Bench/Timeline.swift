import Histogram
import Synchronization

/// Latency over time: one histogram per second of the run, shared by all sessions.
///
/// Sessions record into a `TimelineBuffer` of their own and hand over a whole second at a time,
/// so the lock is taken about once per session per second.
public final class Timeline: Sendable {
    private let seconds: Mutex<[Histogram<UInt64>]>
    /// Seconds kept; later samples count in the last one.
    public let capacitySeconds: Int

    public init(capacitySeconds: Int) {
        precondition(capacitySeconds >= 1 && capacitySeconds <= 7200)
        self.capacitySeconds = capacitySeconds
        self.seconds = Mutex(Array(repeating: Timeline.emptySecond(), count: capacitySeconds))
    }

    static func emptySecond() -> Histogram<UInt64> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: LatencyRecorder.highestMicroseconds, numberOfSignificantValueDigits: .two)
    }

    func add(_ histogram: Histogram<UInt64>, second: Int) {
        let index = min(max(0, second), self.capacitySeconds - 1)
        self.seconds.withLock { $0[index].add(histogram) }
    }

    /// Completed requests and latency percentiles per second, up to the last second with samples.
    public func points() -> [TimelinePoint] {
        let seconds = self.seconds.withLock { $0 }
        let last = seconds.lastIndex { $0.totalCount > 0 } ?? -1
        guard last >= 0 else { return [] }
        return (0...last).map { second in
            let histogram = seconds[second]
            let empty = histogram.totalCount == 0
            return TimelinePoint(
                second: second, completed: Int(histogram.totalCount),
                p50Ms: empty ? 0 : Double(histogram.valueAtPercentile(50)) / 1000,
                p99Ms: empty ? 0 : Double(histogram.valueAtPercentile(99)) / 1000)
        }
    }
}

/// One second of a run.
public struct TimelinePoint: Hashable, Sendable, Codable {
    public var second: Int
    public var completed: Int
    public var p50Ms: Double
    public var p99Ms: Double

    enum CodingKeys: String, CodingKey {
        case second, completed
        case p50Ms = "p50_ms"
        case p99Ms = "p99_ms"
    }
}

/// A session's current second, handed to the shared timeline when the second is over.
public struct TimelineBuffer: Sendable {
    private let timeline: Timeline
    private var second = 0
    private var histogram = Timeline.emptySecond()

    public init(timeline: Timeline) {
        self.timeline = timeline
    }

    public mutating func record(latencyNs: Int64, elapsedNs: Int64) {
        let second = Int(elapsedNs / 1_000_000_000)
        if second != self.second {
            self.flush()
            self.second = second
        }
        let microseconds = UInt64(max(1, latencyNs / 1000))
        _ = self.histogram.record(min(microseconds, LatencyRecorder.highestMicroseconds))
    }

    public mutating func flush() {
        guard self.histogram.totalCount > 0 else { return }
        self.timeline.add(self.histogram, second: self.second)
        self.histogram.reset()
    }
}
