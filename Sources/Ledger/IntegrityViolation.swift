/// One thing `verify` found wrong, with its kind and place.
public struct IntegrityViolation: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable, Codable {
        case entryChanged = "entry-changed"
        case entryNotSealed = "entry-not-sealed"
        case entriesMissing = "entries-missing"
        case balanceChanged = "balance-changed"
        case balanceMismatch = "balance-mismatch"
        case userChanged = "user-changed"
        case checkpointInvalid = "checkpoint-invalid"
        case historyRewritten = "history-rewritten"
        /// A user row is an older copy: its credential version is behind the ledger's.
        case userRolledBack = "user-rolled-back"
        /// The ledger ends before a position the server already committed or signed.
        case ledgerRolledBack = "ledger-rolled-back"
        /// `checkpoint.json` is missing, empty or unreadable although checkpoints were signed.
        case anchorUnreadable = "anchor-unreadable"
        /// The stored Merkle tree or its signed heads do not match the entries.
        case treeMismatch = "tree-mismatch"
    }

    public let kind: Kind
    public let message: String
    /// The user or account the finding is about, when it is about one (to check it again alone).
    public let userID: Int64?

    public init(kind: Kind, message: String, userID: Int64? = nil) {
        self.kind = kind
        self.message = message
        self.userID = userID
    }

    public var description: String { "\(self.kind.rawValue): \(self.message)" }
}
