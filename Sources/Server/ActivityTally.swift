import Synchronization

/// Running totals of what the server did, kept with relaxed atomic adds only, so the operator
/// page can chart throughput and latency without a lock on the request path. The admin listener
/// takes a `Snapshot` every few seconds and charts the differences (`RollingWindow`).
public final class ActivityTally: Sendable {
    /// Upper bounds of the latency buckets, in microseconds: 50 µs growing by a quarter per
    /// bucket, past a minute; the last bucket takes everything slower.
    public static let latencyBucketBoundsMicroseconds: [Int64] = {
        var bounds: [Int64] = []
        var bound = 50.0
        while bound < 90_000_000 {
            bounds.append(Int64(bound.rounded()))
            bound *= 1.25
        }
        return bounds
    }()

    /// The totals at one instant.
    public struct Snapshot: Sendable, Equatable {
        public var transfersCommitted: Int
        public var transfersRefused: Int
        public var requests: Int
        /// Requests per latency bucket (`latencyBucketBoundsMicroseconds`, plus one beyond the last).
        public var latencyBuckets: [Int]
        /// Frames refused, by `ServerMetrics.FrameRejection` raw value.
        public var framesRejected: [String: Int]

        public init(transfersCommitted: Int, transfersRefused: Int, requests: Int, latencyBuckets: [Int], framesRejected: [String: Int]) {
            self.transfersCommitted = transfersCommitted
            self.transfersRefused = transfersRefused
            self.requests = requests
            self.latencyBuckets = latencyBuckets
            self.framesRejected = framesRejected
        }
    }

    private final class Cell: Sendable {
        let value = Atomic<Int>(0)
        func add() { self.value.wrappingAdd(1, ordering: .relaxed) }
        var current: Int { self.value.load(ordering: .relaxed) }
    }

    private let committed = Cell()
    private let refused = Cell()
    private let requests = Cell()
    private let latency: [Cell] = (0...ActivityTally.latencyBucketBoundsMicroseconds.count).map { _ in Cell() }
    private let rejected: [ServerMetrics.FrameRejection: Cell] = Dictionary(
        uniqueKeysWithValues: ServerMetrics.FrameRejection.allCases.map { ($0, Cell()) })

    public init() {}

    func transferCommitted() { self.committed.add() }
    func transferRefused() { self.refused.add() }
    func frameRejected(_ reason: ServerMetrics.FrameRejection) { self.rejected[reason]?.add() }

    func requestAnswered(nanoseconds: Int64) {
        self.requests.add()
        self.latency[Self.bucket(ofNanoseconds: nanoseconds)].add()
    }

    /// The bucket a latency falls in.
    public static func bucket(ofNanoseconds nanoseconds: Int64) -> Int {
        let microseconds = nanoseconds / 1_000
        let bounds = Self.latencyBucketBoundsMicroseconds
        var low = 0
        var high = bounds.count
        while low < high {
            let middle = (low + high) / 2
            if bounds[middle] < microseconds { low = middle + 1 } else { high = middle }
        }
        return low
    }

    public func snapshot() -> Snapshot {
        Snapshot(
            transfersCommitted: self.committed.current, transfersRefused: self.refused.current, requests: self.requests.current,
            latencyBuckets: self.latency.map(\.current),
            framesRejected: Dictionary(uniqueKeysWithValues: self.rejected.map { ($0.key.rawValue, $0.value.current) }))
    }
}
