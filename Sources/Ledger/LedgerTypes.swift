public import IntegraTransparency
/// A user's row as the server needs it for login and transfers.
public struct UserRecord: Hashable, Sendable {
    public let id: Int64
    public let username: Username
    public let passwordHash: String
    /// How many times the password was changed; under the row's seal, and recorded in the hash
    /// chain by a credential entry at every change, so a restored older row is detected.
    public let credentialVersion: Int64
    /// What is wrong with the row, if its check failed: a row changed outside Integra (a swapped
    /// password hash) or an older copy restored must never let anyone log in.
    public let violation: IntegrityViolation?

    public init(id: Int64, username: Username, passwordHash: String, credentialVersion: Int64 = 0, violation: IntegrityViolation? = nil) {
        self.id = id
        self.username = username
        self.passwordHash = passwordHash
        self.credentialVersion = credentialVersion
        self.violation = violation
    }

    /// The customer a lookup by `name` found: checked (seal, keys, credential version), and known
    /// to the session by the name it was looked up by (the stored name, which the seal and the
    /// chain cover, stays in the store). Nil for the system account, which never logs in.
    public static func found(_ user: SealedUser, by name: Username, latestCredentialVersion: Int64, seal: LedgerSeal) -> UserRecord? {
        let violation = LedgerIntegrity.check(user, latestCredentialVersion: latestCredentialVersion, seal: seal)
        if violation == nil && user.keys.kind != UserKeys.customerKind { return nil }
        return UserRecord(id: user.id, username: name, passwordHash: user.passwordHash, credentialVersion: user.credentialVersion, violation: violation)
    }
}

/// Why an entry is in the ledger: a customer's transfer, an operator's deposit from the system
/// account, or a password change (which moves no money; it puts the user row's new credential
/// version into the hash chain).
public enum EntryKind: Int64, Hashable, Sendable {
    case transfer = 1
    case deposit = 2
    case credentialChange = 3

    /// Whether entries of this kind move money (and so have a positive amount).
    public var movesMoney: Bool {
        switch self {
        case .transfer, .deposit: true
        case .credentialChange: false
        }
    }

    /// Whether an entry of this kind may carry `amountCents`: a positive amount for money, zero
    /// for a password change.
    public func allows(amountCents: Int64) -> Bool {
        self.movesMoney ? amountCents > 0 : amountCents == 0
    }
}

/// The credential entry of a password change: a ledger entry of kind `credentialChange` from the
/// user to the user, amount zero, both balances the account's balance, whose transfer id names
/// the new credential version. Customers can't choose such an id ('#' is not allowed in theirs).
public enum CredentialEntry {
    static let prefix = "credential#"
    /// Digits of the zero-padded version, so ids sort by version.
    static let versionDigits = 12

    /// The transfer id of the entry that records credential `version`.
    public static func transferID(version: Int64) -> TransferID {
        precondition(version >= 1 && version < 1_000_000_000_000)
        let digits = String(version)
        return TransferID(trusted: Self.prefix + String(repeating: "0", count: Self.versionDigits - digits.count) + digits)
    }

    /// The version a credential entry's transfer id names; nil if it is not one.
    public static func version(transferID: some Collection<UInt8>) -> Int64? {
        let prefix = Self.prefix.utf8
        guard transferID.count == prefix.count + Self.versionDigits, transferID.starts(with: prefix) else { return nil }
        var version: Int64 = 0
        for byte in transferID.dropFirst(prefix.count) {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            version = version * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return version >= 1 ? version : nil
    }
}

/// One committed movement of money, at its position in the ledger.
public struct LedgerEntry: Hashable, Sendable {
    /// The entry's place in the ledger: 1, 2, 3, … in commit order.
    public let position: Int64
    public let kind: EntryKind
    public let transferID: TransferID
    public let fromUserID: Int64
    public let from: Username
    public let toUserID: Int64
    public let to: Username
    public let amount: Amount
    /// The sender's balance right after this entry, in cents.
    public let fromBalanceAfterCents: Int64
    /// The recipient's balance right after this entry, in cents.
    public let toBalanceAfterCents: Int64
    /// When the entry was committed, in milliseconds since the Unix epoch.
    public let createdAtMs: Int64

    public init(
        position: Int64, kind: EntryKind, transferID: TransferID,
        fromUserID: Int64, from: Username, toUserID: Int64, to: Username, amount: Amount,
        fromBalanceAfterCents: Int64, toBalanceAfterCents: Int64, createdAtMs: Int64
    ) {
        self.position = position
        self.kind = kind
        self.transferID = transferID
        self.fromUserID = fromUserID
        self.from = from
        self.toUserID = toUserID
        self.to = to
        self.amount = amount
        self.fromBalanceAfterCents = fromBalanceAfterCents
        self.toBalanceAfterCents = toBalanceAfterCents
        self.createdAtMs = createdAtMs
    }
}

/// The system account that deposits come from. Its balance is minus the sum of all deposits.
public enum SystemAccount {
    public static let userID: Int64 = 0
    public static let username = Username(trustedCanonical: "system")
}

/// A request nonce with its frame's timestamp, remembered until no replay window ever configured
/// would let that timestamp pass: keyed by what the frame carries, not by the server's window,
/// so a restart with another window never admits a recorded frame again.
public struct NonceRecord: Hashable, Sendable {
    /// The nonce as sent on the wire (16 bytes).
    public let bytes: [UInt8]
    /// The frame's timestamp (ms since the Unix epoch), as sent under the MAC.
    public let timestampMs: Int64

    public init(bytes: [UInt8], timestampMs: Int64) {
        self.bytes = bytes
        self.timestampMs = timestampMs
    }
}

/// A customer's request to move money to another customer.
public struct TransferIntent: Hashable, Sendable {
    public let senderID: Int64
    public let sender: Username
    public let transferID: TransferID
    public let recipient: Username
    public let amount: Amount
    /// The sender's credential version when their session began: if the password was changed
    /// since (on another session), the transfer is refused and the session ends. Nil: no session.
    public let senderCredentialVersion: Int64?

    public init(senderID: Int64, sender: Username, transferID: TransferID, recipient: Username, amount: Amount, senderCredentialVersion: Int64? = nil) {
        self.senderID = senderID
        self.sender = sender
        self.transferID = transferID
        self.recipient = recipient
        self.amount = amount
        self.senderCredentialVersion = senderCredentialVersion
    }
}

/// An operator's deposit into a customer's account from the system account.
public struct DepositIntent: Hashable, Sendable {
    public let transferID: TransferID
    public let recipient: Username
    public let amount: Amount

    public init(transferID: TransferID, recipient: Username, amount: Amount) {
        self.transferID = transferID
        self.recipient = recipient
        self.amount = amount
    }
}

/// A change the store applies inside a group commit.
public enum WriteOperation: Hashable, Sendable {
    /// Only remember the request's nonce (for read requests).
    case recordNonce
    case createUser(username: Username, passwordHash: String)
    /// A new password: the user row gets the next credential version, and the ledger an entry
    /// that records it.
    case changePassword(userID: Int64, username: Username, passwordHash: String)
    /// The same password hashed again at the deployment's cost, if the row still holds
    /// `expectedHash` (the credential version stays: it is the same password).
    case rehashPassword(userID: Int64, expectedHash: String, newHash: String)
    case transfer(TransferIntent)
    case deposit(DepositIntent)

    /// Whether applying it changes balances.
    public var movesMoney: Bool {
        switch self {
        case .transfer, .deposit: true
        case .recordNonce, .createUser, .changePassword, .rehashPassword: false
        }
    }

    /// Whether applying it appends to the ledger (and so takes the ledger's write lock): money
    /// movements and password changes, which are recorded in the hash chain.
    public var appendsToLedger: Bool {
        switch self {
        case .transfer, .deposit, .changePassword: true
        case .recordNonce, .createUser, .rehashPassword: false
        }
    }
}

/// One request in a group commit: its nonce (if it came over the network) and its change.
/// A request whose nonce was seen before is rejected without applying its change.
public struct WriteRequest: Hashable, Sendable {
    public let nonce: NonceRecord?
    public let operation: WriteOperation

    public init(nonce: NonceRecord?, operation: WriteOperation) {
        self.nonce = nonce
        self.operation = operation
    }
}

/// The result of a transfer or deposit: the committed entry, and whether it was committed by an
/// earlier request with the same id (an idempotent retry).
public struct TransferReceipt: Hashable, Sendable {
    public let entry: LedgerEntry
    public let isRetry: Bool
    /// The entry's link in the ledger's hash chain.
    public let chainHash: [UInt8]
    /// The entry's inclusion in the head the store signed for its group (or, for a retry, the
    /// latest head); nil only from a store that keeps no tree.
    public var inclusion: TreeInclusion?

    public init(entry: LedgerEntry, isRetry: Bool, chainHash: [UInt8], inclusion: TreeInclusion? = nil) {
        self.entry = entry
        self.isRetry = isRetry
        self.chainHash = chainHash
        self.inclusion = inclusion
    }
}

/// What happened to one request of a group commit.
public enum WriteOutcome: Hashable, Sendable {
    case nonceRecorded
    case userCreated(UserRecord)
    /// A password was changed, or hashed again.
    case passwordChanged
    case transferred(TransferReceipt)
    case rejected(LedgerError)
}

/// Totals over the whole ledger, for operators and invariant checks.
public struct LedgerSummary: Hashable, Sendable {
    /// Sum of all customer balances, in cents.
    public let customerBalanceCents: Int64
    /// Sum of all deposits ever made, in cents.
    public let depositedCents: Int64
    /// The system account's balance (minus the deposits), in cents.
    public let systemBalanceCents: Int64
    public let customers: Int64
    public let entries: Int64

    public init(customerBalanceCents: Int64, depositedCents: Int64, systemBalanceCents: Int64, customers: Int64, entries: Int64) {
        self.customerBalanceCents = customerBalanceCents
        self.depositedCents = depositedCents
        self.systemBalanceCents = systemBalanceCents
        self.customers = customers
        self.entries = entries
    }
}

/// A signed statement of the ledger's head: "entry `position` has chain hash `chainHash`".
/// Stored in the database and, as an anchor outside it, in the data directory, so rewriting
/// history or restoring an older copy of the database is detected.
public struct LedgerCheckpoint: Hashable, Sendable, Codable {
    public let position: Int64
    public let chainHash: [UInt8]
    public let createdAtMs: Int64
    /// Ed25519 signature by the server's identity key over `LedgerSeal.checkpointPayload`.
    public let signature: [UInt8]

    public init(position: Int64, chainHash: [UInt8], createdAtMs: Int64, signature: [UInt8]) {
        self.position = position
        self.chainHash = chainHash
        self.createdAtMs = createdAtMs
        self.signature = signature
    }
}
