import Foundation
public import IntegraServer

/// The JSON of `GET /api/status`, which the operator page polls: small, and holding no secret
/// (no keys, no passwords, no store URL; customer names only as alarms' evidence mentions them).
public struct OperatorStatus: Codable, Sendable, Equatable {
    public struct Checkpoint: Codable, Sendable, Equatable {
        public let position: Int64
        public let createdAtMs: Int64
        public let ageSeconds: Double
    }

    public struct Alarm: Codable, Sendable, Equatable {
        public let id: String
        public let kind: String
        public let evidence: String
        public let raisedAtMs: Int64
        public let acknowledgeCommand: String
    }

    public struct Verification: Codable, Sendable, Equatable {
        public let running: Bool
        public let progressEntries: Int64?
        public let lastFinishedAtMs: Int64?
        public let lastEntriesChecked: Int64?
        public let lastViolations: Int?
        public let lastSeconds: Double?
    }

    /// One point of the charts: the interval's end, committed transfers per second, and the
    /// interval's p50 and p99 request latency in milliseconds.
    public struct Point: Codable, Sendable, Equatable {
        public let atMs: Int64
        public let transfersPerSecond: Double
        public let p50Ms: Double?
        public let p99Ms: Double?
    }

    public let nowMs: Int64
    public let ready: Bool
    public let notReadyReason: String?
    public let echo: Bool
    public let headPosition: Int64?
    public let verifiedPosition: Int64?
    public let storeReachable: Bool
    public let lastCheckpoint: Checkpoint?
    public let openConnections: Int
    public let sessions: Int
    public let bcryptQueueDepth: Int
    public let bcryptQueueLimit: Int
    public let transfersCommitted: Int
    public let transfersRefused: Int
    public let rejections: [String: Int]
    public let p50Ms: Double?
    public let p99Ms: Double?
    public let series: [Point]
    public let alarms: [Alarm]
    public let verification: Verification

    /// Puts together the state read now, the running totals and the 15-minute window.
    public init(state: OperationalState, activity: ActivityTally.Snapshot, window: RollingWindow, nowMs: Int64) {
        let readiness = Readiness(state)
        self.nowMs = nowMs
        switch readiness {
        case .ready:
            self.ready = true
            self.notReadyReason = nil
        case .notReady(let reason):
            self.ready = false
            self.notReadyReason = reason
        }
        self.echo = state.echo
        self.headPosition = state.headPosition
        self.verifiedPosition = state.verifiedPosition
        self.storeReachable = state.headPosition != nil
        self.lastCheckpoint = state.lastCheckpoint.map {
            Checkpoint(position: $0.position, createdAtMs: $0.createdAtMs, ageSeconds: max(0, Double(nowMs - $0.createdAtMs) / 1_000))
        }
        self.openConnections = state.openConnections
        self.sessions = state.sessions
        self.bcryptQueueDepth = state.bcryptQueueDepth
        self.bcryptQueueLimit = state.bcryptQueueLimit
        self.transfersCommitted = activity.transfersCommitted
        self.transfersRefused = activity.transfersRefused
        self.rejections = activity.framesRejected
        let buckets = window.windowBuckets
        self.p50Ms = RollingWindow.latencyMs(quantile: 0.5, buckets: buckets)
        self.p99Ms = RollingWindow.latencyMs(quantile: 0.99, buckets: buckets)
        self.series = window.series.map {
            Point(
                atMs: $0.endMs, transfersPerSecond: ($0.transfersPerSecond * 10).rounded() / 10,
                p50Ms: RollingWindow.latencyMs(quantile: 0.5, buckets: $0.latencyBuckets),
                p99Ms: RollingWindow.latencyMs(quantile: 0.99, buckets: $0.latencyBuckets))
        }
        self.alarms = state.openAlarms.map {
            Alarm(
                id: $0.id, kind: $0.kind, evidence: $0.detail, raisedAtMs: $0.raisedAtMs,
                acknowledgeCommand: "integra-server alarms acknowledge \($0.id) --reason TEXT")
        }
        let last = state.lastFullVerification
        self.verification = Verification(
            running: state.fullVerificationProgress != nil, progressEntries: state.fullVerificationProgress,
            lastFinishedAtMs: last?.finishedAtMs, lastEntriesChecked: last?.entriesChecked, lastViolations: last?.violations,
            lastSeconds: last.map { ($0.seconds * 1000).rounded() / 1000 })
    }

    /// The JSON sent to the page.
    public func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(self)) ?? Data("{}".utf8))
    }
}
