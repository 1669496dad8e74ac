public import IntegraLedger
public import IntegraProtocol
import NIOCore

/// Everything an operator can tune, with safe defaults.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Where keys, the client configuration and (by default) the SQLite file live.
    public var dataDirectory = "./integra-data"
    /// The store; nil means the SQLite file `integra.sqlite` in the data directory.
    public var database: DatabaseLocation?
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
    public var maximumFrameBytes = FrameFormat.defaultMaximumFrameBytes
    /// Requests per store transaction.
    public var groupCommitBatchSize = 512
    /// How often expired nonces are pruned.
    public var noncePruneIntervalMs: Int64 = 30_000
    /// Create demo users on a new data directory.
    public var createDemoUsers = true

    public static let minimumBcryptCost: UInt8 = 10

    public init() {}

    /// Checks the values an operator may have set; returns a message for the first bad one.
    public func validate() throws(ConfigurationError) {
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
        guard self.maximumFrameBytes >= 1024 && self.maximumFrameBytes <= FrameFormat.hardMaximumFrameBytes else {
            throw ConfigurationError("maximum frame size must be 1 KiB to \(FrameFormat.hardMaximumFrameBytes / 1024) KiB")
        }
        guard self.groupCommitBatchSize >= 1 && self.groupCommitBatchSize <= 4096 else {
            throw ConfigurationError("group commit batch size must be 1 to 4096")
        }
    }
}

/// Which store to use, parsed from `--database`.
public enum DatabaseLocation: Hashable, Sendable {
    case sqlite(path: String)

    /// Parses `sqlite:PATH`, `sqlite://PATH` or a plain file path.
    public static func parse(_ text: String) throws(ConfigurationError) -> DatabaseLocation {
        if text.hasPrefix("sqlite://") { return .sqlite(path: String(text.dropFirst("sqlite://".count))) }
        if text.hasPrefix("sqlite:") { return .sqlite(path: String(text.dropFirst("sqlite:".count))) }
        if text.hasPrefix("mariadb://") || text.hasPrefix("mysql://") {
            throw ConfigurationError("this build has no MariaDB store; build with `--traits MariaDB`")
        }
        guard !text.contains("://"), !text.isEmpty else {
            throw ConfigurationError("database must be sqlite:PATH or a file path")
        }
        return .sqlite(path: text)
    }
}
