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

    private struct State {
        var accounts: KeyedRateLimiter<Int64>
        var addresses: KeyedRateLimiter<String>
    }

    public let policy: Policy
    private let state: Mutex<State>

    public init(policy: Policy = Policy()) {
        precondition(policy.perAccountPerMinute >= 1 && policy.perAddressPerMinute >= 1 && policy.maximumTrackedKeys >= 2)
        self.policy = policy
        self.state = Mutex(State(
            accounts: KeyedRateLimiter(ratePerMinute: policy.perAccountPerMinute, burst: policy.perAccountPerMinute, maximumKeys: policy.maximumTrackedKeys / 2),
            addresses: KeyedRateLimiter(ratePerMinute: policy.perAddressPerMinute, burst: policy.perAddressPerMinute, maximumKeys: policy.maximumTrackedKeys / 2)))
    }

    /// Whether the account, from this address, may still name a recipient that may not exist.
    public func allows(account: Int64, address: String, nowMs: Int64) -> Bool {
        self.state.withLock { $0.accounts.wouldAdmit(account, nowMs: nowMs) && $0.addresses.wouldAdmit(address, nowMs: nowMs) }
    }

    /// Counts a transfer answered `unknown_recipient`.
    public func recordUnknownRecipient(account: Int64, address: String, nowMs: Int64) {
        self.state.withLock { state in
            state.accounts.admit(account, nowMs: nowMs)
            state.addresses.admit(address, nowMs: nowMs)
        }
    }
}
