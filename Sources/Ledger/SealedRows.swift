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

/// A user row as stored, with its seal.
public struct SealedUser: Sendable {
    public let id: Int64
    public let username: String
    public let passwordHash: String
    public let credentialVersion: Int64
    public let mac: [UInt8]?

    public init(id: Int64, username: String, passwordHash: String, credentialVersion: Int64, mac: [UInt8]?) {
        self.id = id
        self.username = username
        self.passwordHash = passwordHash
        self.credentialVersion = credentialVersion
        self.mac = mac
    }
}
