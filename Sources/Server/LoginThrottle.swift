public import IntegraProtocol

/// Login, password-check and registration throttling, after OWASP ASVS 4.0.3 V2.2.1 and OWASP's
/// device cookies: per account and per client address, with exponential backoff and an hourly
/// cap on failed attempts, except for a client that presents a valid device token for the
/// account it names, which is throttled by its token alone, so that nobody can lock the owner
/// out of their account by failing logins for it elsewhere.
///
/// Accounts are keyed by the name as typed (canonicalised), whether or not such a user exists,
/// so throttling answers the same for known and unknown names. Attempts still in flight count
/// against the hourly cap, so parallel guesses cannot exceed it; the backoff follows completed
/// failures, so honest concurrent logins (one customer on two devices, many customers behind
/// one address) are not slowed. Password checks waiting for bcrypt are capped per account and
/// per address, so one account or address can't fill the shared queue. Pure: the caller passes
/// the clock.
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
        /// Consecutive failures with one device token before its backoff starts, and its hourly cap.
        public var freeFailuresPerDevice = 5
        public var maximumFailuresPerDevicePerHour = 100
        /// Password checks (logins, `change_password`) one account, and one address, may have
        /// waiting at once; more are answered `server_busy`.
        public var maximumPendingChecksPerAccount = 8
        public var maximumPendingChecksPerAddress = 64
        /// New accounts one address may register per hour.
        public var registrationsPerAddressPerHour = 20
        /// Accounts and addresses remembered; idle ones, then the least recently seen, are
        /// forgotten beyond it.
        public var maximumTrackedKeys = 100_000

        public init() {}
    }

    /// One password check: the account named, where it comes from, and the identity of a valid
    /// device token for that account, if the client presented one.
    public struct Attempt: Hashable, Sendable {
        public let account: String
        public let address: String
        public let device: String?

        public init(account: String, address: String, device: String?) {
            self.account = account
            self.address = address
            self.device = device
        }
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
    private(set) var devices: [String: Record] = [:]
    private(set) var registrations: [String: Record] = [:]

    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    private var accountLimits: Limits { Limits(free: self.policy.freeFailuresPerAccount, hourlyCap: self.policy.maximumFailuresPerAccountPerHour) }
    private var addressLimits: Limits { Limits(free: self.policy.freeFailuresPerAddress, hourlyCap: self.policy.maximumFailuresPerAddressPerHour) }
    private var deviceLimits: Limits { Limits(free: self.policy.freeFailuresPerDevice, hourlyCap: self.policy.maximumFailuresPerDevicePerHour) }

    /// Whether a password check may run now. Every allowed attempt must be followed by `completed`.
    public mutating func attempted(_ attempt: Attempt, nowMs: Int64) -> ThrottleVerdict {
        let wait: Int64
        if let device = attempt.device {
            wait = Self.wait(self.devices[device], limits: self.deviceLimits, nowMs: nowMs)
        } else {
            wait = max(Self.wait(self.accounts[attempt.account], limits: self.accountLimits, nowMs: nowMs),
                       Self.wait(self.addresses[attempt.address], limits: self.addressLimits, nowMs: nowMs))
        }
        guard wait == 0 else { return .throttled(retryAfterMs: wait) }
        guard (self.accounts[attempt.account]?.inFlight ?? 0) < self.policy.maximumPendingChecksPerAccount,
              (self.addresses[attempt.address]?.inFlight ?? 0) < self.policy.maximumPendingChecksPerAddress
        else { return .busy }
        self.update(&self.accounts, attempt.account, nowMs: nowMs) { $0.inFlight += 1 }
        self.update(&self.addresses, attempt.address, nowMs: nowMs) { $0.inFlight += 1 }
        if let device = attempt.device { self.update(&self.devices, device, nowMs: nowMs) { $0.inFlight += 1 } }
        return .allowed
    }

    /// Reports how an allowed attempt ended. A failure with a valid device token counts against
    /// that token only; without one, against the account and the address.
    public mutating func completed(_ attempt: Attempt, outcome: ThrottleOutcome, nowMs: Int64) {
        let policy = self.policy
        func settle(_ limits: Limits, counts: Bool, resets: Bool) -> (inout Record) -> Void {
            { record in
                record.inFlight = max(0, record.inFlight - 1)
                switch outcome {
                case .wrongCredentials where counts:
                    Self.countFailure(&record, limits: limits, policy: policy, nowMs: nowMs)
                case .succeeded where resets:
                    record.consecutiveFailures = 0
                    if record.failuresInWindow < limits.hourlyCap { record.blockedUntilMs = 0 }
                case .wrongCredentials, .succeeded, .notChecked:
                    break
                }
            }
        }
        let trusted = attempt.device != nil
        self.update(&self.accounts, attempt.account, nowMs: nowMs, settle(self.accountLimits, counts: !trusted, resets: !trusted))
        self.update(&self.addresses, attempt.address, nowMs: nowMs, settle(self.addressLimits, counts: !trusted, resets: false))
        if let device = attempt.device {
            self.update(&self.devices, device, nowMs: nowMs, settle(self.deviceLimits, counts: true, resets: true))
        }
    }

    /// Whether `address` may register an account now; an allowed registration is counted.
    public mutating func registrationAttempted(address: String, nowMs: Int64) -> ThrottleVerdict {
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
