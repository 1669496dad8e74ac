public import CoreMetrics
import IntegraProtocol

/// The server's metrics: every name, label and unit in one place (Prometheus conventions:
/// `_total` for counters, base units, `_seconds` for durations).
///
/// Handles are made once, when the deployment starts, through the factory given (the admin
/// listener's Prometheus registry, or nothing at all): recording one is an atomic add, or one
/// lock inside a histogram, never a lookup by name. Gauges that describe state (open connections,
/// the ledger head, alarms) are not kept here: the admin listener reads the state when it is
/// scraped (`OperationalState`).
public final class ServerMetrics: Sendable {
    /// The kinds of requests, as the `kind` label of the request metrics.
    public enum RequestKind: String, CaseIterable, Sendable {
        case register, login, logout, transfer, balance, history, changePassword = "change_password", proof, treeProof = "tree_proof"
    }

    /// Why a frame was refused before it became a request, as the `reason` label.
    public enum FrameRejection: String, CaseIterable, Sendable {
        case mac, replay, stale, malformed, outOfOrder = "out_of_order", unexpected
    }

    /// How a login ended, as the `result` label.
    public enum LoginResult: String, CaseIterable, Sendable {
        case ok, failed, throttled
    }

    public static let transfersCommittedName = "integra_transfers_committed_total"
    public static let transfersRefusedName = "integra_transfers_refused_total"
    public static let requestDurationName = "integra_request_duration_seconds"
    public static let groupCommitBatchSizeName = "integra_group_commit_batch_size"
    public static let groupCommitDurationName = "integra_group_commit_duration_seconds"
    public static let loginsName = "integra_logins_total"
    public static let bcryptWaitName = "integra_bcrypt_wait_seconds"
    public static let framesRejectedName = "integra_frames_rejected_total"
    public static let storeErrorsName = "integra_store_errors_total"
    public static let groupCommitFailuresName = "integra_group_commit_failures_total"
    /// Counted by the MariaDB store itself, through the process's metrics system.
    public static let storeReconnectsName = "integra_store_reconnects_total"

    private let transfersCommitted: Counter
    private let transfersRefused: [ErrorCode: Counter]
    private let requestDurations: [RequestKind: Timer]
    private let batchSizes: Recorder
    private let commitDurations: Timer
    private let logins: [LoginResult: Counter]
    private let bcryptWait: Timer
    private let framesRejected: [FrameRejection: Counter]
    private let storeErrors: Counter
    private let commitFailures: Counter
    /// Lock-free running totals for the operator page's 15-minute charts.
    public let activity = ActivityTally()

    /// Metrics recorded nowhere: for deployments without an admin listener, and tests.
    public static let disabled = ServerMetrics(factory: NOOPMetricsHandler.instance)

    public init(factory: any MetricsFactory) {
        self.transfersCommitted = Counter(label: Self.transfersCommittedName, factory: factory)
        self.transfersRefused = Dictionary(uniqueKeysWithValues: ErrorCode.allCases.map {
            ($0, Counter(label: Self.transfersRefusedName, dimensions: [("code", $0.name)], factory: factory))
        })
        self.requestDurations = Dictionary(uniqueKeysWithValues: RequestKind.allCases.map {
            ($0, Timer(label: Self.requestDurationName, dimensions: [("kind", $0.rawValue)], factory: factory))
        })
        self.batchSizes = Recorder(label: Self.groupCommitBatchSizeName, factory: factory)
        self.commitDurations = Timer(label: Self.groupCommitDurationName, factory: factory)
        self.logins = Dictionary(uniqueKeysWithValues: LoginResult.allCases.map {
            ($0, Counter(label: Self.loginsName, dimensions: [("result", $0.rawValue)], factory: factory))
        })
        self.bcryptWait = Timer(label: Self.bcryptWaitName, factory: factory)
        self.framesRejected = Dictionary(uniqueKeysWithValues: FrameRejection.allCases.map {
            ($0, Counter(label: Self.framesRejectedName, dimensions: [("reason", $0.rawValue)], factory: factory))
        })
        self.storeErrors = Counter(label: Self.storeErrorsName, factory: factory)
        self.commitFailures = Counter(label: Self.groupCommitFailuresName, factory: factory)
    }

    /// Records what one answered frame was: its request's kind and latency, a committed or refused
    /// transfer, a login's result, or a frame refused before it became a request.
    func answered(_ report: ServerConnectionStateMachine.Report, durationNanoseconds: Int64?) {
        guard let request = report.request else {
            if let code = report.error?.code, let rejection = Self.frameRejection(code) {
                self.framesRejected[rejection]?.increment()
                self.activity.frameRejected(rejection)
            }
            return
        }
        let kind = Self.kind(of: request)
        if let durationNanoseconds {
            self.requestDurations[kind]?.recordNanoseconds(durationNanoseconds)
            self.activity.requestAnswered(nanoseconds: durationNanoseconds)
        }
        switch kind {
        case .transfer:
            if let error = report.error {
                self.transfersRefused[error.code]?.increment()
                self.activity.transferRefused()
            } else {
                self.transfersCommitted.increment()
                self.activity.transferCommitted()
            }
        case .login:
            let result: LoginResult = switch report.error?.code {
            case nil: .ok
            case .tooManyAttempts?, .rateLimited?: .throttled
            default: .failed
            }
            self.logins[result]?.increment()
        case .register, .logout, .balance, .history, .changePassword, .proof, .treeProof:
            break
        }
        if let code = report.error?.code, let rejection = Self.frameRejection(code) {
            self.framesRejected[rejection]?.increment()
            self.activity.frameRejected(rejection)
        }
    }

    /// One group commit: how many requests it carried and how long the store took.
    public func groupCommitted(batchSize: Int, nanoseconds: Int64, failed: Bool) {
        self.batchSizes.record(batchSize)
        self.commitDurations.recordNanoseconds(nanoseconds)
        if failed { self.commitFailures.increment() }
    }

    /// A request failed because the store was unavailable.
    func storeFailed() {
        self.storeErrors.increment()
    }

    /// How long a password job waited for a bcrypt thread.
    func bcryptWaited(nanoseconds: Int64) {
        self.bcryptWait.recordNanoseconds(nanoseconds)
    }

    static func frameRejection(_ code: ErrorCode) -> FrameRejection? {
        switch code {
        case .authenticationFailed: .mac
        case .replayDetected: .replay
        case .staleTimestamp: .stale
        case .malformedFrame, .malformedMessage, .frameTooLarge, .unsupportedVersion: .malformed
        case .outOfOrder: .outOfOrder
        case .unexpectedMessage: .unexpected
        case .invalidUsername, .invalidPassword, .usernameTaken, .invalidCredentials, .tooManyAttempts, .sessionEnded,
             .invalidAmount, .insufficientFunds, .unknownRecipient, .selfTransfer, .transferIDConflict, .invalidTransferID,
             .balanceOverflow, .entryNotFound, .serverBusy, .storeUnavailable, .internalError, .timeout, .rateLimited, .integrityAlarm:
            nil
        }
    }

    static func kind(of request: ServerRequest) -> RequestKind {
        switch request {
        case .register: .register
        case .login: .login
        case .logout: .logout
        case .transfer: .transfer
        case .balance: .balance
        case .history: .history
        case .changePassword: .changePassword
        case .proof: .proof
        case .treeProof: .treeProof
        }
    }
}
