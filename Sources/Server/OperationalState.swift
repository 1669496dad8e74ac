public import IntegraLedger

/// What an operator wants to know about a running deployment at one instant: read from the
/// server's state when the admin listener is asked (a scrape, the status page, a health check),
/// never kept up to date on the request path.
public struct OperationalState: Sendable {
    /// The ledger's head as the store reports it; nil when the store could not be read.
    public var headPosition: Int64?
    /// Why the store could not be read (no secrets: the store's error text is redacted of URLs by the stores).
    public var storeError: String?
    /// The last entry the server verified entry by entry.
    public var verifiedPosition: Int64?
    /// The last signed checkpoint (the anchor).
    public var lastCheckpoint: LedgerCheckpoint?
    public var openConnections: Int
    public var sessions: Int
    /// Password jobs queued or running on the bcrypt pool, and its limit.
    public var bcryptQueueDepth: Int
    public var bcryptQueueLimit: Int
    /// Alarms still open, oldest first.
    public var openAlarms: [AlarmRecord]
    /// The last full verification of the ledger, and the progress of one running now.
    public var lastFullVerification: IntegrityMonitor.FullVerification?
    public var fullVerificationProgress: Int64?
    public var shuttingDown: Bool
    /// The deployment's keys are loaded (always, once it started; kept explicit for readiness).
    public var keysLoaded: Bool
    /// Echo mode: a benchmark baseline without a ledger.
    public var echo: Bool

    public init(
        headPosition: Int64? = nil, storeError: String? = nil, verifiedPosition: Int64? = nil, lastCheckpoint: LedgerCheckpoint? = nil,
        openConnections: Int = 0, sessions: Int = 0, bcryptQueueDepth: Int = 0, bcryptQueueLimit: Int = 0, openAlarms: [AlarmRecord] = [],
        lastFullVerification: IntegrityMonitor.FullVerification? = nil, fullVerificationProgress: Int64? = nil,
        shuttingDown: Bool = false, keysLoaded: Bool = true, echo: Bool = false
    ) {
        self.headPosition = headPosition
        self.storeError = storeError
        self.verifiedPosition = verifiedPosition
        self.lastCheckpoint = lastCheckpoint
        self.openConnections = openConnections
        self.sessions = sessions
        self.bcryptQueueDepth = bcryptQueueDepth
        self.bcryptQueueLimit = bcryptQueueLimit
        self.openAlarms = openAlarms
        self.lastFullVerification = lastFullVerification
        self.fullVerificationProgress = fullVerificationProgress
        self.shuttingDown = shuttingDown
        self.keysLoaded = keysLoaded
        self.echo = echo
    }
}

extension IntegraDeployment {
    /// Reads the deployment's state; asks the store for its head (which also tells whether the
    /// store is reachable: a MariaDB that went away fails within its connect timeout).
    public func operationalState() async -> OperationalState {
        var state = OperationalState()
        do {
            state.headPosition = try await self.store.head().position
        } catch {
            state.storeError = "\(error)"
        }
        state.verifiedPosition = await self.monitor.verified?.position
        state.lastCheckpoint = await self.monitor.anchor
        state.lastFullVerification = await self.monitor.lastFullVerification
        state.fullVerificationProgress = await self.monitor.fullVerificationProgress
        state.openAlarms = self.monitor.alarms.open
        let counts = self.server.connectionCounts
        state.openConnections = counts.open
        state.sessions = counts.sessions
        state.bcryptQueueDepth = self.passwordJobs
        state.bcryptQueueLimit = self.configuration.maximumPendingPasswordJobs
        state.shuttingDown = self.server.isShuttingDown
        state.echo = self.configuration.echo
        return state
    }
}
