import Foundation
public import IntegraLedger
public import IntegraStoreFactory
public import IntegraProtocol
public import IntegraTransparency
import NIOCore

/// Everything an operator can tune, with safe defaults.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Where keys, the client configuration and (by default) the SQLite file live.
    public var dataDirectory = "./integra-data"
    /// The store; nil means the SQLite file `integra.sqlite` in the data directory.
    public var database: DatabaseLocation?
    /// Serve plain TCP instead of TLS 1.3: for loopback debugging only (refused on other addresses).
    public var plaintext = false
    /// The operator's own TLS certificate chain and key (PEM); nil: the self-signed pair in the data directory.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// Accepted clock difference, and how long nonces are remembered.
    public var replayWindowMs: Int64 = 120_000
    /// A connection that sends nothing for this long is closed.
    public var idleTimeoutMs: Int64 = 300_000
    /// bcrypt cost for new password hashes (10 to 31).
    public var bcryptCost: UInt8 = 12
    /// Threads that run bcrypt, away from the event loops.
    public var passwordHashingThreads = System.coreCount
    /// Hash or verify jobs allowed to wait; more are shed with `server_busy`.
    public var maximumPendingPasswordJobs = 256
    public var passwordPolicy = PasswordPolicy()
    /// The largest single transfer or deposit, in cents.
    public var maximumAmountCents: Int64 = 100_000_000
    public var maximumConnections = 10_000
    /// Open connections from one IP address.
    public var maximumConnectionsPerAddress = 256
    /// The TLS handshake and the client's first frame must arrive within this time.
    public var handshakeTimeoutMs: Int64 = 10_000
    /// A frame whose first bytes arrived must be complete within this time (slow senders).
    public var frameTimeoutMs: Int64 = 10_000
    /// A session ends this long after its login, whatever it does.
    public var sessionLifetimeMs: Int64 = 12 * 3_600_000
    /// Requests one session may make per second (sustained), and in a burst.
    public var requestsPerSecond = 1_000
    public var requestBurst = 2_000
    /// Login throttling per account and per address.
    public var loginThrottle = LoginThrottle.Policy()
    /// How many transfers to names that do not exist an account and an address may make.
    public var recipientProbes = RecipientProbeLimiter.Policy()
    /// Audit trail files of accepted transfers and rejected attempts; nil: `audit/` in the data directory.
    public var auditDirectory: String?
    public var maximumFrameBytes = FrameFormat.defaultMaximumFrameBytes
    /// Connections to MariaDB (ignored for SQLite).
    public var databaseConnections = 8
    /// Requests per store transaction.
    public var groupCommitBatchSize = 512
    /// How often the ledger head is checkpointed (signed) when it moved.
    public var checkpointIntervalMs: Int64 = 10_000
    /// How often new entries are verified and the alarms re-read.
    public var integrityCheckIntervalMs: Int64 = 1_000
    /// How often the background verifier checks the whole ledger (nil: never).
    public var fullVerifyIntervalMs: Int64? = 86_400_000
    /// How often expired nonces are pruned.
    public var noncePruneIntervalMs: Int64 = 30_000
    /// On shutdown, how long requests in flight may take to finish before connections are closed.
    public var shutdownGraceMs: Int64 = 10_000
    /// Create demo users on a new data directory.
    public var createDemoUsers = true
    /// Where the server reads the time of day: replay windows, session lifetimes, the login
    /// throttle, device tokens, ledger entries, checkpoints and nonce pruning. Tests set a
    /// manual clock; timers on the event loops (idle, handshake and frame timeouts) keep theirs.
    public var clock: WallClock = .system
    /// Witnesses the server pushes every new tree head to (c2sp.org/tlog-witness), and how many
    /// cosignatures it tells clients to require (`client.json`, `witnessThreshold`).
    public var witnesses: [WitnessEndpoint] = []
    public var witnessThreshold = 0
    /// How often the newest head is offered to the witnesses.
    public var witnessPushIntervalMs: Int64 = 1_000
    /// Echo mode, a benchmark baseline: the same frames and checks, but requests are answered by
    /// `EchoService` without the store and without checking passwords. Never for customers.
    public var echo = false

    public static let minimumBcryptCost: UInt8 = 10

    /// The store in use: `database`, or the SQLite file in the data directory.
    public var databaseLocation: DatabaseLocation {
        self.database ?? .defaultStore(inDataDirectory: self.dataDirectory)
    }

    /// The audit trail's directory.
    public var auditTrailDirectory: String { self.auditDirectory ?? "\(self.dataDirectory)/audit" }

    public init() {}

    /// Whether `host` is a loopback address (see `LoopbackAddress`).
    static func isLoopback(_ host: String) -> Bool { LoopbackAddress.contains(host) }

    /// Checks the values an operator may have set; returns a message for the first bad one.
    public func validate() throws(ConfigurationError) {
        guard self.witnessThreshold >= 0 && self.witnessThreshold <= self.witnesses.count else {
            throw ConfigurationError("--witness-threshold must be 0 to the number of --witness (\(self.witnesses.count))")
        }
        guard self.witnesses.count <= 16 else { throw ConfigurationError("at most 16 witnesses") }
        guard self.bcryptCost >= Self.minimumBcryptCost && self.bcryptCost <= 31 else {
            throw ConfigurationError("bcrypt cost must be \(Self.minimumBcryptCost) to 31")
        }
        guard self.replayWindowMs >= 1_000 && self.replayWindowMs <= 3_600_000 else {
            throw ConfigurationError("replay window must be 1 to 3600 seconds")
        }
        guard self.idleTimeoutMs >= 1_000 else { throw ConfigurationError("idle timeout must be at least 1 second") }
        guard self.passwordHashingThreads >= 1 && self.passwordHashingThreads <= 256 else {
            throw ConfigurationError("password hashing threads must be 1 to 256")
        }
        guard self.maximumPendingPasswordJobs >= 1 else { throw ConfigurationError("pending password jobs must be at least 1") }
        guard self.maximumAmountCents >= 1 else { throw ConfigurationError("maximum amount must be positive") }
        guard self.maximumConnections >= 1 else { throw ConfigurationError("maximum connections must be at least 1") }
        guard self.maximumConnectionsPerAddress >= 1 else { throw ConfigurationError("maximum connections per address must be at least 1") }
        guard self.handshakeTimeoutMs >= 100 && self.frameTimeoutMs >= 100 else {
            throw ConfigurationError("handshake and frame timeouts must be at least 0.1 seconds")
        }
        guard (1...100).contains(self.loginThrottle.maximumFailuresPerAccountPerHour) else {
            throw ConfigurationError("failed logins per account per hour must be 1 to 100")
        }
        guard self.sessionLifetimeMs >= 1_000 else { throw ConfigurationError("session lifetime must be at least 1 second") }
        guard self.requestsPerSecond >= 1 && self.requestBurst >= 1 else {
            throw ConfigurationError("requests per second and burst must be at least 1")
        }
        guard !self.plaintext || Self.isLoopback(self.host) else {
            throw ConfigurationError("--plaintext serves passwords readable on the wire; it is allowed on a loopback address only (127.0.0.1, ::1, localhost)")
        }
        guard !self.echo || Self.isLoopback(self.host) else {
            throw ConfigurationError("--echo lets every login in without a password; it is allowed on a loopback address only")
        }
        guard (self.tlsCertificatePath == nil) == (self.tlsKeyPath == nil) else {
            throw ConfigurationError("give both a TLS certificate and its key, or neither")
        }
        guard self.maximumFrameBytes >= 1024 && self.maximumFrameBytes <= FrameFormat.hardMaximumFrameBytes else {
            throw ConfigurationError("maximum frame size must be 1 KiB to \(FrameFormat.hardMaximumFrameBytes / 1024) KiB")
        }
        if let interval = self.fullVerifyIntervalMs {
            guard interval >= 1_000 else { throw ConfigurationError("--verify-every must be at least 1 second") }
        }
        guard self.integrityCheckIntervalMs >= 10 && self.checkpointIntervalMs >= 10 else {
            throw ConfigurationError("integrity check and checkpoint intervals must be at least 10 ms")
        }
        guard self.groupCommitBatchSize >= 1 && self.groupCommitBatchSize <= 4096 else {
            throw ConfigurationError("group commit batch size must be 1 to 4096")
        }
    }
}

/// A witness the server pushes heads to: where it listens and its cosignature verifier key.
public struct WitnessEndpoint: Hashable, Sendable {
    public let url: String
    public let verifierKey: String
    public let verifier: NoteVerifier

    /// Parses `URL=VKEY` (`--witness`): an http(s) URL and the witness's C2SP verifier key.
    public static func parse(_ text: String) throws(ConfigurationError) -> WitnessEndpoint {
        guard let split = text.firstIndex(of: "=") else { throw ConfigurationError("--witness must be URL=VKEY, for example http://127.0.0.1:9470=witness.example+1234abcd+BA...") }
        let url = String(text[..<split])
        let key = String(text[text.index(after: split)...])
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { throw ConfigurationError("--witness: \(url) is not an http(s) URL") }
        guard let verifier = try? NoteVerifier(verifierKey: key), verifier.signatureType == .timestampedEd25519Cosignature else {
            throw ConfigurationError("--witness: \(key) is not a witness's verifier key (integra-witness vkey prints one)")
        }
        return WitnessEndpoint(url: url, verifierKey: key, verifier: verifier)
    }
}
