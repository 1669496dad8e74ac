/// A token bucket: `ratePerSecond` requests sustained, up to `burst` at once. One per session;
/// pure, the caller passes the clock.
public struct RequestRateLimiter: Sendable {
    public let ratePerSecond: Int
    public let burst: Int
    /// Tokens in thousandths, so that rates below one per millisecond refill smoothly.
    private var milliTokens: Int64
    private var lastRefillMs: Int64

    public init(ratePerSecond: Int, burst: Int, nowMs: Int64) {
        precondition(ratePerSecond >= 1 && burst >= 1)
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        self.milliTokens = Int64(burst) * 1_000
        self.lastRefillMs = nowMs
    }

    /// Takes a token if one is available.
    public mutating func admit(nowMs: Int64) -> Bool {
        let elapsedMs = max(0, nowMs - self.lastRefillMs)
        self.lastRefillMs = max(self.lastRefillMs, nowMs)
        let capacity = Int64(self.burst) * 1_000
        self.milliTokens = min(capacity, self.milliTokens + elapsedMs * Int64(self.ratePerSecond))
        guard self.milliTokens >= 1_000 else { return false }
        self.milliTokens -= 1_000
        return true
    }
}
