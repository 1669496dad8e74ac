import IntegraProtocol

/// A token bucket per key (an account, a client address), bounded: past `maximumKeys` the least
/// recently seen tenth is forgotten at once, so eviction stays rare. Pure: the caller passes the
/// clock and holds the lock.
struct KeyedRateLimiter<Key: Hashable> {
    private struct Tracked {
        var limiter: RequestRateLimiter
        var lastSeenMs: Int64
    }

    private var table: [Key: Tracked] = [:]
    private let ratePerMinute: Int
    private let burst: Int
    let maximumKeys: Int

    init(ratePerMinute: Int, burst: Int, maximumKeys: Int) {
        precondition(ratePerMinute >= 1 && burst >= 1 && maximumKeys >= 1)
        self.ratePerMinute = ratePerMinute
        self.burst = burst
        self.maximumKeys = maximumKeys
    }

    /// Whether `key` has a token now, without taking it (a key not seen yet has a full bucket).
    func wouldAdmit(_ key: Key, nowMs: Int64) -> Bool {
        guard var limiter = self.table[key]?.limiter else { return true }
        return limiter.wouldAdmit(nowMs: nowMs)
    }

    /// Takes a token of `key` if one is there; returns whether it was.
    @discardableResult
    mutating func admit(_ key: Key, nowMs: Int64) -> Bool {
        if self.table[key] == nil && self.table.count >= self.maximumKeys {
            let oldest = self.table.sorted { $0.value.lastSeenMs < $1.value.lastSeenMs }.prefix(max(1, self.maximumKeys / 10))
            for (stale, _) in oldest { self.table[stale] = nil }
        }
        var tracked = self.table[key]
            ?? Tracked(limiter: RequestRateLimiter(ratePerMinute: self.ratePerMinute, burst: self.burst, nowMs: nowMs), lastSeenMs: nowMs)
        let admitted = tracked.limiter.admit(nowMs: nowMs)
        tracked.lastSeenMs = nowMs
        self.table[key] = tracked
        return admitted
    }
}
