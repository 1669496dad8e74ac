import IntegraLedger

/// The reads behind the integrity checks (`LedgerIntegrity`), on one connection through the C
/// API with statements prepared once: an account's latest entry, an entry with the chain hash
/// before it, a run of entries, a user's latest credential version. The writer uses them inside
/// its transaction; the store's read side on a connection of its own. Not thread-safe.
final class SQLiteEvidence {
    private let latestPosition: SQLiteStatement
    private let entryAt: SQLiteStatement
    private let chainHashAt: SQLiteStatement
    private let entriesAfter: SQLiteStatement
    private let latestCredential: SQLiteStatement
    private let entriesFrom: SQLiteStatement
    private let verified: VerifiedRowCache
    /// Latest positions as known when the current transaction began (set before each BEGIN).
    var known: VerifiedRowCache.KnownPositions

    /// Every entry column in the order `sealedEntry(_:)` reads them.
    static let entryColumns = """
        e.position, e.kind, e.transfer_id, e.from_user, e.to_user, e.amount_cents, e.from_balance_after,
        e.to_balance_after, e.created_at_ms, fu.username, tu.username, e.chain_hash, e.mac
        """
    static let entryJoin = "FROM entries e JOIN users fu ON fu.id = e.from_user JOIN users tu ON tu.id = e.to_user"

    /// At most `limit` entries with their seals after `afterPosition` on `connection`, numbers
    /// converted as verify's page reader converts them.
    static func sealedEntries(on connection: SQLiteConnection, afterPosition: Int64, limit: Int) throws(LedgerError) -> [SealedEntry] {
        var entries: [SealedEntry] = []
        try connection.run(
            "SELECT \(Self.entryColumns) \(Self.entryJoin) WHERE e.position > ?1 ORDER BY e.position LIMIT ?2",
            .integer(afterPosition), .integer(Int64(limit))
        ) { (row) throws(LedgerError) in entries.append(try Self.sealedEntry(row, converting: true)) }
        return entries
    }

    /// The most entries one `entries(after:through:)` call returns.
    static let maximumRun = 10_000

    init(connection: SQLiteConnection, verified: VerifiedRowCache) throws(LedgerError) {
        self.verified = verified
        self.known = verified.knownPositions()
        self.entriesFrom = try connection.prepare("SELECT COUNT(*), MAX(position) FROM entries WHERE position > ?1")
        self.latestPosition = try connection.prepare("""
            SELECT MAX(p) FROM (SELECT MAX(position) AS p FROM entries WHERE from_user = ?1
                                UNION ALL SELECT MAX(position) AS p FROM entries WHERE to_user = ?1)
            """)
        self.entryAt = try connection.prepare("SELECT \(Self.entryColumns) \(Self.entryJoin) WHERE e.position = ?1")
        self.chainHashAt = try connection.prepare("SELECT chain_hash FROM entries WHERE position = ?1")
        self.entriesAfter = try connection.prepare(
            "SELECT \(Self.entryColumns) \(Self.entryJoin) WHERE e.position > ?1 AND e.position <= ?2 ORDER BY e.position LIMIT ?3")
        // The unique (from_user, transfer_id) index finds the highest credential id directly.
        self.latestCredential = try connection.prepare("""
            SELECT transfer_id FROM entries
            WHERE from_user = ?1 AND transfer_id >= 'credential#' AND transfer_id < 'credential$' AND kind = 3
            ORDER BY transfer_id DESC LIMIT 1
            """)
    }

    /// An account row with its latest entry.
    func account(userID: Int64, username: String, credentialVersion: Int64 = 0, balanceCents: Int64, mac: [UInt8]?) throws(LedgerError) -> AccountEvidence {
        let latest: Int64?
        do {
            defer { self.latestPosition.reset() }
            try self.latestPosition.bind(.integer(userID))
            guard try self.latestPosition.step() else { throw .storeUnavailable("database error: no row from MAX") }
            latest = self.latestPosition.isNull(0) ? nil : try self.latestPosition.int64(0, "position")
        }
        let known = self.known.latestPosition(of: userID)
        var missing: Int64? = nil
        if known == nil {
            missing = try self.missingPositions(after: latest ?? 0)
            if missing == 0, let latest { self.known.remember(latestPositions: [(userID, latest)]) }
        }
        return AccountEvidence(
            userID: userID, username: username, credentialVersion: credentialVersion, balanceCents: balanceCents, mac: mac,
            latestPosition: latest, latestEntry: try latest.flatMap { position throws(LedgerError) in try self.entry(at: position) },
            knownLatestPosition: known, missingAfterLatest: missing, firstMissingPosition: self.known.firstMissingPosition)
    }

    /// How many positions after `position`, up to the last entry, hold no entry.
    func missingPositions(after position: Int64) throws(LedgerError) -> Int64 {
        defer { self.entriesFrom.reset() }
        try self.entriesFrom.bind(.integer(position))
        guard try self.entriesFrom.step() else { throw .storeUnavailable("database error: no row from COUNT") }
        let count = try self.entriesFrom.int64(0, "count")
        guard !self.entriesFrom.isNull(1) else { return 0 }
        return try self.entriesFrom.int64(1, "position") - position - count
    }

    /// The entry at `position` with the chain hash before it; nil if there is none (or its user
    /// rows are gone).
    func entry(at position: Int64) throws(LedgerError) -> EntryEvidence? {
        let sealed: SealedEntry
        do {
            defer { self.entryAt.reset() }
            try self.entryAt.bind(.integer(position))
            guard try self.entryAt.step() else { return nil }
            sealed = try Self.sealedEntry(self.entryAt)
        }
        return EntryEvidence(sealed: sealed, previousChainHash: try self.chainHash(at: position - 1))
    }

    /// The stored chain hash at `position` (the genesis hash at 0); nil when there is no entry.
    func chainHash(at position: Int64) throws(LedgerError) -> [UInt8]? {
        guard position > 0 else { return LedgerSeal.genesisHash }
        defer { self.chainHashAt.reset() }
        try self.chainHashAt.bind(.integer(position))
        guard try self.chainHashAt.step() else { return nil }
        return self.chainHashAt.blob(0) ?? []
    }

    /// Entries after `position` up to `through`, in order, at most `maximumRun` of them.
    func entries(after position: Int64, through last: Int64) throws(LedgerError) -> [SealedEntry] {
        defer { self.entriesAfter.reset() }
        try self.entriesAfter.bind(.integer(position), .integer(last), .integer(Int64(Self.maximumRun)))
        var entries: [SealedEntry] = []
        while try self.entriesAfter.step() {
            entries.append(try Self.sealedEntry(self.entriesAfter))
        }
        return entries
    }

    /// The credential version the user's latest credential entry records; 0 without one.
    func latestCredentialVersion(userID: Int64) throws(LedgerError) -> Int64 {
        defer { self.latestCredential.reset() }
        try self.latestCredential.bind(.integer(userID))
        guard try self.latestCredential.step() else { return 0 }
        return CredentialEntry.version(transferID: try self.latestCredential.textBytes(0, "transfer_id")) ?? 0
    }

    /// Reads the current row of a statement that selects `entryColumns`.
    /// With `converting`, numbers are read as `SQLiteStatement.convertedInt64` reads them.
    static func sealedEntry(_ row: SQLiteStatement, converting: Bool = false) throws(LedgerError) -> SealedEntry {
        func integer(_ column: Int32, _ name: String) throws(LedgerError) -> Int64 {
            converting ? try row.convertedInt64(column, name) : try row.int64(column, name)
        }
        guard let kind = EntryKind(rawValue: try integer(1, "kind")) else { throw .storeUnavailable("database error: unexpected value in column kind") }
        let amountCents = try integer(5, "amount_cents")
        guard kind.allows(amountCents: amountCents) else {
            throw .storeUnavailable("database error: unexpected value in column amount_cents")
        }
        let entry = LedgerEntry(
            position: try integer(0, "position"), kind: kind, transferID: TransferID(trusted: try row.text(2, "transfer_id")),
            fromUserID: try integer(3, "from_user"), from: Username(trustedCanonical: try row.text(9, "from_name")),
            toUserID: try integer(4, "to_user"), to: Username(trustedCanonical: try row.text(10, "to_name")),
            amount: Amount(cents: amountCents),
            fromBalanceAfterCents: try integer(6, "from_balance_after"), toBalanceAfterCents: try integer(7, "to_balance_after"),
            createdAtMs: try integer(8, "created_at_ms"))
        return SealedEntry(entry: entry, chainHash: row.blob(11), mac: row.blob(12))
    }
}
