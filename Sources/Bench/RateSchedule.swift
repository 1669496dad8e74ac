/// When each request of one session is due in an open-loop run.
///
/// The total rate is shared evenly by the sessions and the sessions are staggered across one
/// interval, so the server sees a steady stream rather than bursts. Latency is measured from the
/// due time, not from the moment the request was actually sent, so a server that falls behind
/// shows its queueing delay (no coordinated omission).
public struct RateSchedule: Hashable, Sendable {
    /// Time between two requests of this session.
    public let intervalNs: Int64
    /// When this session's first request is due, after the start.
    public let offsetNs: Int64

    public init(totalRatePerSecond: Double, sessions: Int, sessionIndex: Int) {
        precondition(totalRatePerSecond > 0 && sessions >= 1 && (0..<sessions).contains(sessionIndex))
        let perSession = totalRatePerSecond / Double(sessions)
        self.intervalNs = max(1, Int64((1e9 / perSession).rounded()))
        self.offsetNs = self.intervalNs * Int64(sessionIndex) / Int64(sessions)
    }

    /// When request `index` (from 0) is due, in nanoseconds after the start.
    public func dueNs(_ index: Int64) -> Int64 {
        precondition(index >= 0)
        return self.offsetNs + index * self.intervalNs
    }

    /// How many requests of this session fall due before `elapsedNs`.
    public func dueCount(before elapsedNs: Int64) -> Int64 {
        guard elapsedNs > self.offsetNs else { return 0 }
        return (elapsedNs - self.offsetNs - 1) / self.intervalNs + 1
    }
}
