/// An entry row as stored, with its seals, for `LedgerVerifier` and the integrity checks.
public struct SealedEntry: Sendable {
    public let entry: LedgerEntry
    public let chainHash: [UInt8]?
    public let mac: [UInt8]?

    public init(entry: LedgerEntry, chainHash: [UInt8]?, mac: [UInt8]?) {
        self.entry = entry
        self.chainHash = chainHash
        self.mac = mac
    }
}

/// An account row as stored, with its seal.
public struct SealedAccount: Sendable {
    public let userID: Int64
    public let username: String
    public let balanceCents: Int64
    public let mac: [UInt8]?

    public init(userID: Int64, username: String, balanceCents: Int64, mac: [UInt8]?) {
        self.userID = userID
        self.username = username
        self.balanceCents = balanceCents
        self.mac = mac
    }
}

/// A user row as stored, with its seal and the columns derived from what the seal covers.
public struct SealedUser: Sendable {
    public let id: Int64
    public let username: String
    public let passwordHash: String
    public let credentialVersion: Int64
    public let mac: [UInt8]?
    /// The row's name keys and kind, as stored: not under the seal, because each is a function of
    /// sealed values (the name and the id) and is checked against it (`LedgerIntegrity.checkKeys`).
    public let keys: UserKeys

    public init(id: Int64, username: String, passwordHash: String, credentialVersion: Int64, mac: [UInt8]?, keys: UserKeys) {
        self.id = id
        self.username = username
        self.passwordHash = passwordHash
        self.credentialVersion = credentialVersion
        self.mac = mac
        self.keys = keys
    }
}

/// The columns a user row is found by: the lookup form of its name, its confusable skeleton
/// (either nil when an earlier account holds the same key, see the version 7 migration), and
/// whether it is a customer or the system account.
public struct UserKeys: Hashable, Sendable {
    public let lookupName: String?
    public let skeleton: String?
    /// The stored `kind` column: 0 a customer, 1 the system account.
    public let kind: Int64

    public init(lookupName: String?, skeleton: String?, kind: Int64) {
        self.lookupName = lookupName
        self.skeleton = skeleton
        self.kind = kind
    }

    public static let customerKind: Int64 = 0
    public static let systemKind: Int64 = 1
}
