import Foundation

/// Milliseconds since the Unix epoch, as frames carry them: the system's wall clock, or one a
/// test sets. The server reads every instant it needs (replay windows, session lifetimes, the
/// login throttle, device tokens, checkpoints, nonce pruning) from the clock in its
/// `ServerConfiguration`.
public struct WallClock: Sendable {
    private let readMs: @Sendable () -> Int64

    /// A clock that reads the time from `readMs` (a test's manual clock).
    public init(readMs: @escaping @Sendable () -> Int64) {
        self.readMs = readMs
    }

    /// The time now, in milliseconds since the Unix epoch.
    public func nowMs() -> Int64 {
        self.readMs()
    }

    /// The system's wall clock (`CLOCK_REALTIME`).
    public static let system = WallClock(readMs: WallClock.systemNowMs)

    private static func systemNowMs() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }
}
