/// Login and registration throttling, after OWASP ASVS 4.0.3 V2.2.1: per account and per client
/// address, with exponential backoff and an hourly cap on failed attempts.
///
/// Accounts are keyed by the name as typed (canonicalised), whether or not such a user exists,
/// so throttling answers the same for known and unknown names. Attempts still in flight count
/// against the hourly cap, so parallel guesses cannot exceed it; the backoff follows completed
/// failures, so honest concurrent logins (one customer on two devices, many customers behind
/// one address) are not slowed. Pure: the caller passes the clock.
public struct LoginThrottle: Sendable {
    public struct Policy: Hashable, Sendable {
        /// Consecutive failures on one account before the backoff starts.
        public var freeFailuresPerAccount = 5
        /// Failed attempts allowed on one account per hour (ASVS: at most 100).
        public var maximumFailuresPerAccountPerHour = 100
        /// Consecutive failures from one address before its backoff starts.
        public var freeFailuresPerAddress = 20
        public var maximumFailuresPerAddressPerHour = 1_000
        /// The first backoff; each further failure doubles it, up to `maximumBackoffMs`.
        public var initialBackoffMs: Int64 = 1_000
        public var maximumBackoffMs: Int64 = 300_000
        /// New accounts one address may register per hour.
        public var registrationsPerAddressPerHour = 20
        /// Accounts and addresses remembered; idle ones, then the least recently seen, are
        /// forgotten beyond it.
        public var maximumTrackedKeys = 100_000

        public init() {}
    }

    public enum Decision: Hashable, Sendable {
        case allowed
        case throttled(retryAfterMs: Int64)
    }

    /// How an allowed login attempt ended.
    public enum Outcome: Hashable, Sendable {
        case succeeded
        case wrongCredentials
        /// Not a password check (bad input, server busy).
        case notChecked
    }

    struct Record: Sendable {
        var consecutiveFailures = 0
        var windowStartMs: Int64
        var failuresInWindow = 0
        var inFlight = 0
        var blockedUntilMs: Int64 = 0
        var lastSeenMs: Int64
    }

    struct Limits {
        let free: Int
        let hourlyCap: Int
    }

    static let hourMs: Int64 = 3_600_000

    public let policy: Policy
    private(set) var accounts: [String: Record] = [:]
    private(set) var addresses: [String: Record] = [:]
    private(set) var registrations: [String: Record] = [:]

    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    private var accountLimits: Limits { Limits(free: self.policy.freeFailuresPerAccount, hourlyCap: self.policy.maximumFailuresPerAccountPerHour) }
    private var addressLimits: Limits { Limits(free: self.policy.freeFailuresPerAddress, hourlyCap: self.policy.maximumFailuresPerAddressPerHour) }

    /// Whether a login for `account` from `address` may be checked now. Every allowed attempt
    /// must be followed by `loginCompleted`.
    public mutating func loginAttempted(account: String, address: String, nowMs: Int64) -> Decision {
        let wait = max(Self.wait(self.accounts[account], limits: self.accountLimits, nowMs: nowMs),
                       Self.wait(self.addresses[address], limits: self.addressLimits, nowMs: nowMs))
        guard wait == 0 else { return .throttled(retryAfterMs: wait) }
        self.update(&self.accounts, account, nowMs: nowMs) { $0.inFlight += 1 }
        self.update(&self.addresses, address, nowMs: nowMs) { $0.inFlight += 1 }
        return .allowed
    }

    /// Reports how an allowed attempt ended.
    public mutating func loginCompleted(account: String, address: String, outcome: Outcome, nowMs: Int64) {
        let policy = self.policy
        for (key, limits, isAccount) in [(account, self.accountLimits, true), (address, self.addressLimits, false)] {
            let change: (inout Record) -> Void = { record in
                record.inFlight = max(0, record.inFlight - 1)
                switch outcome {
                case .wrongCredentials:
                    Self.countFailure(&record, limits: limits, policy: policy, nowMs: nowMs)
                case .succeeded where isAccount:
                    record.consecutiveFailures = 0
                    if record.failuresInWindow < limits.hourlyCap { record.blockedUntilMs = 0 }
                case .succeeded, .notChecked:
                    break
                }
            }
            if isAccount { self.update(&self.accounts, key, nowMs: nowMs, change) } else { self.update(&self.addresses, key, nowMs: nowMs, change) }
        }
    }

    /// Whether `address` may register an account now; an allowed registration is counted.
    public mutating func registrationAttempted(address: String, nowMs: Int64) -> Decision {
        var record = self.registrations[address] ?? Record(windowStartMs: nowMs, lastSeenMs: nowMs)
        if nowMs - record.windowStartMs >= Self.hourMs {
            record = Record(windowStartMs: nowMs, lastSeenMs: nowMs)
        }
        guard record.failuresInWindow < self.policy.registrationsPerAddressPerHour else {
            return .throttled(retryAfterMs: record.windowStartMs + Self.hourMs - nowMs)
        }
        self.update(&self.registrations, address, nowMs: nowMs) { stored in
            stored = record
            stored.failuresInWindow += 1
        }
        return .allowed
    }

    /// How long an attempt must wait: the backoff, or the rest of the hour once completed and
    /// in-flight failures reach the cap.
    private static func wait(_ record: Record?, limits: Limits, nowMs: Int64) -> Int64 {
        guard let record else { return 0 }
        var wait = max(0, record.blockedUntilMs - nowMs)
        let windowEndMs = record.windowStartMs + Self.hourMs
        if nowMs < windowEndMs && record.failuresInWindow + record.inFlight >= limits.hourlyCap {
            wait = max(wait, windowEndMs - nowMs)
        }
        return wait
    }

    private static func countFailure(_ record: inout Record, limits: Limits, policy: Policy, nowMs: Int64) {
        if nowMs - record.windowStartMs >= Self.hourMs {
            record.windowStartMs = nowMs
            record.failuresInWindow = 0
        }
        record.consecutiveFailures += 1
        record.failuresInWindow += 1
        if record.consecutiveFailures >= limits.free {
            let doublings = min(record.consecutiveFailures - limits.free, 30)
            let backoffMs = min(policy.maximumBackoffMs, policy.initialBackoffMs << Int64(doublings))
            record.blockedUntilMs = max(record.blockedUntilMs, nowMs + backoffMs)
        }
        if record.failuresInWindow >= limits.hourlyCap {
            record.blockedUntilMs = max(record.blockedUntilMs, record.windowStartMs + Self.hourMs)
        }
    }

    /// Changes (or creates) a record, forgetting idle ones, then the least recently seen, when
    /// a new key would pass the limit.
    private func update(_ records: inout [String: Record], _ key: String, nowMs: Int64, _ change: (inout Record) -> Void) {
        var record = records[key] ?? Record(windowStartMs: nowMs, lastSeenMs: nowMs)
        if records[key] == nil && records.count >= self.policy.maximumTrackedKeys {
            records = records.filter { $0.value.inFlight > 0 || $0.value.blockedUntilMs > nowMs || nowMs - $0.value.lastSeenMs < Self.hourMs }
            if records.count >= self.policy.maximumTrackedKeys, let oldest = records.min(by: { $0.value.lastSeenMs < $1.value.lastSeenMs }) {
                records[oldest.key] = nil
            }
        }
        change(&record)
        record.lastSeenMs = nowMs
        records[key] = record
    }
}
