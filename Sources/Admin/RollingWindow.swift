public import IntegraServer

/// The last 15 minutes of the server's activity, for the operator page's charts.
///
/// It is fed `ActivityTally` snapshots (running totals) every few seconds and keeps, per
/// interval, the differences: transfers committed, requests and their latency buckets. Points
/// older than the window fall off; the count of points is bounded by window / interval.
public struct RollingWindow: Sendable {
    /// One interval's activity.
    public struct Point: Sendable, Equatable {
        public let endMs: Int64
        public let seconds: Double
        public let transfersCommitted: Int
        public let transfersRefused: Int
        public let requests: Int
        public let latencyBuckets: [Int]

        public var transfersPerSecond: Double { self.seconds > 0 ? Double(self.transfersCommitted) / self.seconds : 0 }
    }

    public let windowMs: Int64
    public let maximumPoints: Int
    private var points: [Point] = []
    private var last: (atMs: Int64, snapshot: ActivityTally.Snapshot)?

    public init(windowMs: Int64 = 15 * 60_000, intervalMs: Int64 = 2_000) {
        precondition(windowMs > 0 && intervalMs > 0)
        self.windowMs = windowMs
        self.maximumPoints = Int(windowMs / intervalMs) + 1
    }

    /// Adds the activity since the previous snapshot. The first snapshot only sets the start;
    /// a snapshot not later than the previous one is ignored.
    public mutating func add(_ snapshot: ActivityTally.Snapshot, atMs nowMs: Int64) {
        defer { self.last = (nowMs, snapshot) }
        guard let last = self.last else { return }
        guard nowMs > last.atMs else { return }
        let buckets = zip(snapshot.latencyBuckets, last.snapshot.latencyBuckets).map { max(0, $0 - $1) }
        self.points.append(Point(
            endMs: nowMs, seconds: Double(nowMs - last.atMs) / 1_000,
            transfersCommitted: max(0, snapshot.transfersCommitted - last.snapshot.transfersCommitted),
            transfersRefused: max(0, snapshot.transfersRefused - last.snapshot.transfersRefused),
            requests: max(0, snapshot.requests - last.snapshot.requests), latencyBuckets: buckets))
        let oldestMs = nowMs - self.windowMs
        let stale = self.points.prefix { $0.endMs <= oldestMs }.count
        self.points.removeFirst(max(stale, self.points.count - self.maximumPoints))
    }

    /// The points in the window, oldest first.
    public var series: [Point] { self.points }

    /// The latency below which a fraction `quantile` of the requests in `buckets` answered, in
    /// milliseconds (the upper bound of the bucket it falls in); nil without requests.
    public static func latencyMs(quantile: Double, buckets: [Int]) -> Double? {
        let total = buckets.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = max(1, Int((quantile * Double(total)).rounded(.up)))
        var seen = 0
        let bounds = ActivityTally.latencyBucketBoundsMicroseconds
        for (index, count) in buckets.enumerated() {
            seen += count
            if seen >= rank {
                let bound = index < bounds.count ? bounds[index] : bounds[bounds.count - 1] * 2
                return Double(bound) / 1_000
            }
        }
        return nil
    }

    /// The latency buckets of the whole window added up.
    public var windowBuckets: [Int] {
        self.points.reduce(into: [Int](repeating: 0, count: ActivityTally.latencyBucketBoundsMicroseconds.count + 1)) { sum, point in
            for (index, count) in point.latencyBuckets.enumerated() where index < sum.count { sum[index] += count }
        }
    }
}
