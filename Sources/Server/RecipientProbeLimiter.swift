import IntegraProtocol
import Synchronization

/// Transfers answered `unknown_recipient` are how names are probed. Each session has its own
/// budget (the connection machine's); this one is the server's, per account and per client
/// address, so logging in again or opening more connections buys no new probes.
public final class RecipientProbeLimiter: Sendable {
    public struct Policy: Hashable, Sendable {
        /// Unknown recipients one account may name per minute (and in a burst).
        public var perAccountPerMinute = 10
        /// Unknown recipients all sessions from one address may name per minute (and in a burst).
        public var perAddressPerMinute = 60
        /// Accounts and addresses remembered; the least recently seen are forgotten beyond it.
        public var maximumTrackedKeys = 100_000

        public init() {}
    }

    private struct Tracked {
        var limiter: RequestRateLimiter
        var lastSeenMs: Int64
    }

    private struct State {
        var accounts: [Int64: Tracked] = [:]
        var addresses: [String: Tracked] = [:]
    }

    public let policy: Policy
    private let state = Mutex(State())

    public init(policy: Policy = Policy()) {
        precondition(policy.perAccountPerMinute >= 1 && policy.perAddressPerMinute >= 1 && policy.maximumTrackedKeys >= 2)
        self.policy = policy
    }

    /// Whether the account, from this address, may still name a recipient that may not exist.
    public func allows(account: Int64, address: String, nowMs: Int64) -> Bool {
        self.state.withLock { state in
            let accountOK = state.accounts[account].map { tracked in
                var limiter = tracked.limiter
                return limiter.wouldAdmit(nowMs: nowMs)
            } ?? true
            let addressOK = state.addresses[address].map { tracked in
                var limiter = tracked.limiter
                return limiter.wouldAdmit(nowMs: nowMs)
            } ?? true
            return accountOK && addressOK
        }
    }

    /// Counts a transfer answered `unknown_recipient`.
    public func recordUnknownRecipient(account: Int64, address: String, nowMs: Int64) {
        let policy = self.policy
        self.state.withLock { state in
            Self.take(&state.accounts, key: account, perMinute: policy.perAccountPerMinute, limit: policy.maximumTrackedKeys / 2, nowMs: nowMs)
            Self.take(&state.addresses, key: address, perMinute: policy.perAddressPerMinute, limit: policy.maximumTrackedKeys / 2, nowMs: nowMs)
        }
    }

    private static func take<Key: Hashable>(_ table: inout [Key: Tracked], key: Key, perMinute: Int, limit: Int, nowMs: Int64) {
        if table[key] == nil && table.count >= limit {
            // Forget the least recently seen tenth at once, so eviction stays rare.
            let oldest = table.sorted { $0.value.lastSeenMs < $1.value.lastSeenMs }.prefix(max(1, limit / 10))
            for (stale, _) in oldest { table[stale] = nil }
        }
        var tracked = table[key] ?? Tracked(limiter: RequestRateLimiter(ratePerMinute: perMinute, burst: perMinute, nowMs: nowMs), lastSeenMs: nowMs)
        _ = tracked.limiter.admit(nowMs: nowMs)
        tracked.lastSeenMs = nowMs
        table[key] = tracked
    }
}
