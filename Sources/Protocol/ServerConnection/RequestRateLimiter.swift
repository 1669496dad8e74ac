/// A token bucket: a sustained rate, up to `burst` at once. Pure: the caller passes the clock.
public struct RequestRateLimiter: Sendable {
    /// One token, in the bucket's units: a rate per minute refills a whole number of units per
    /// millisecond, and so does a rate per second.
    private static let unitsPerToken: Int64 = 60_000

    public let burst: Int
    private let unitsPerMs: Int64
    private var units: Int64
    private var lastRefillMs: Int64

    /// `ratePerSecond` requests sustained, bursts of `burst`.
    public init(ratePerSecond: Int, burst: Int, nowMs: Int64) {
        precondition(ratePerSecond >= 1)
        self.init(unitsPerMs: Int64(ratePerSecond) * 60, burst: burst, nowMs: nowMs)
    }

    /// `ratePerMinute` sustained, bursts of `burst`.
    public init(ratePerMinute: Int, burst: Int, nowMs: Int64) {
        precondition(ratePerMinute >= 1)
        self.init(unitsPerMs: Int64(ratePerMinute), burst: burst, nowMs: nowMs)
    }

    private init(unitsPerMs: Int64, burst: Int, nowMs: Int64) {
        precondition(burst >= 1)
        self.burst = burst
        self.unitsPerMs = unitsPerMs
        self.units = Int64(burst) * Self.unitsPerToken
        self.lastRefillMs = nowMs
    }

    /// Takes a token if one is available.
    public mutating func admit(nowMs: Int64) -> Bool {
        self.refill(nowMs: nowMs)
        guard self.units >= Self.unitsPerToken else { return false }
        self.units -= Self.unitsPerToken
        return true
    }

    /// Whether a token is available, without taking it.
    public mutating func wouldAdmit(nowMs: Int64) -> Bool {
        self.refill(nowMs: nowMs)
        return self.units >= Self.unitsPerToken
    }

    private mutating func refill(nowMs: Int64) {
        let elapsedMs = max(0, nowMs - self.lastRefillMs)
        self.lastRefillMs = max(self.lastRefillMs, nowMs)
        let capacity = Int64(self.burst) * Self.unitsPerToken
        let (added, overflow) = elapsedMs.multipliedReportingOverflow(by: self.unitsPerMs)
        self.units = overflow ? capacity : min(capacity, self.units + added)
    }
}
