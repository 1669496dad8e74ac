#if MariaDB
import IntegraLedger

/// The reads behind the integrity checks (`LedgerIntegrity`) on MariaDB, for the writer inside
/// its transaction (locking reads after the head lock) and for the read side: a few statements
/// for any number of rows, since every statement is a round trip.
enum MariaDBEvidence {
    /// Every entry column with its users' names, chain hash and MAC, in the order `entry` reads.
    static let sealedEntrySelect = """
        SELECT e.position, e.kind, e.transfer_id, e.from_user, e.to_user, e.amount_cents,
               e.from_balance_after, e.to_balance_after, e.created_at_ms, fu.username, tu.username, e.chain_hash, e.mac
        FROM entries e STRAIGHT_JOIN users fu ON fu.id = e.from_user STRAIGHT_JOIN users tu ON tu.id = e.to_user
        """

    /// Rows per statement for lists of ids.
    static let rowsPerStatement = 100

    /// Row `row` of a result whose first eleven columns are an entry with its users' names.
    static func ledgerEntry(_ rows: MariaDBRows, _ row: Int) throws -> LedgerEntry {
        guard let kind = EntryKind(rawValue: try rows.int64(row, 1)) else { throw MariaDBError(number: 0, message: "unknown entry kind") }
        let amountCents = try rows.int64(row, 5)
        guard kind.allows(amountCents: amountCents) else { throw MariaDBError(number: 0, message: "entry amount does not fit its kind") }
        return LedgerEntry(
            position: try rows.int64(row, 0), kind: kind, transferID: TransferID(trusted: try rows.text(row, 2)),
            fromUserID: try rows.int64(row, 3), from: Username(trustedCanonical: try rows.text(row, 9)),
            toUserID: try rows.int64(row, 4), to: Username(trustedCanonical: try rows.text(row, 10)),
            amount: Amount(cents: amountCents),
            fromBalanceAfterCents: try rows.int64(row, 6), toBalanceAfterCents: try rows.int64(row, 7),
            createdAtMs: try rows.int64(row, 8))
    }

    /// Row `row` of a `sealedEntrySelect` result.
    static func entry(_ rows: MariaDBRows, _ row: Int) throws -> SealedEntry {
        SealedEntry(entry: try Self.ledgerEntry(rows, row), chainHash: rows.rows[row][11], mac: rows.rows[row][12])
    }

    /// Entries at `positions` with the chain hashes before them, by position (absent: no row, or
    /// its user rows are gone).
    static func entries(at positions: some Collection<Int64>, connection: MariaDBConnection) throws -> [Int64: EntryEvidence] {
        let wanted = Array(Set(positions))
        var sealed: [Int64: SealedEntry] = [:]
        var hashes: [Int64: [UInt8]] = [0: LedgerSeal.genesisHash]
        for chunk in wanted.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            let rows = try connection.query(Self.sealedEntrySelect + " WHERE e.position IN (\(placeholders))", chunk.map { .int($0) })
            for row in rows.rows.indices {
                let entry = try Self.entry(rows, row)
                sealed[entry.entry.position] = entry
            }
            let before = chunk.map { $0 - 1 }.filter { $0 > 0 }
            guard !before.isEmpty else { continue }
            let hashRows = try connection.query(
                "SELECT position, chain_hash FROM entries WHERE position IN (\(Array(repeating: "?", count: before.count).joined(separator: ", ")))",
                before.map { .int($0) })
            for row in hashRows.rows.indices { hashes[try hashRows.int64(row, 0)] = hashRows.rows[row][1] ?? [] }
        }
        return sealed.mapValues { EntryEvidence(sealed: $0, previousChainHash: hashes[$0.entry.position - 1]) }
    }

    /// An account row as read for a check.
    struct AccountRow {
        let userID: Int64
        let username: String
        var credentialVersion: Int64 = 0
        let balanceCents: Int64
        let mac: [UInt8]?
    }

    /// Accounts with their latest entries, in three statements per `rowsPerStatement` accounts.
    /// Accounts with no latest position in `known` are checked against the ledger's density
    /// from their latest entry on (one statement each), and remembered when it holds.
    static func accounts(_ accounts: [AccountRow], connection: MariaDBConnection, known: VerifiedRowCache.KnownPositions) throws -> [AccountEvidence] {
        var latest: [Int64: Int64] = [:]
        for chunk in accounts.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            let rows = try connection.query(
                """
                SELECT u.id, GREATEST(COALESCE((SELECT MAX(position) FROM entries WHERE from_user = u.id), 0),
                                      COALESCE((SELECT MAX(position) FROM entries WHERE to_user = u.id), 0))
                FROM users u WHERE u.id IN (\(placeholders))
                """,
                chunk.map { .int($0.userID) })
            for row in rows.rows.indices {
                let position = try rows.int64(row, 1)
                if position > 0 { latest[try rows.int64(row, 0)] = position }
            }
        }
        let entries = try Self.entries(at: latest.values, connection: connection)
        return try accounts.map { account in
            let position = latest[account.userID]
            let knownPosition = known.latestPosition(of: account.userID)
            var missing: Int64? = nil
            if knownPosition == nil {
                missing = try Self.missingPositions(after: position ?? 0, connection: connection)
                if missing == 0, let position { known.remember(latestPositions: [(account.userID, position)]) }
            }
            return AccountEvidence(
                userID: account.userID, username: account.username, credentialVersion: account.credentialVersion,
                balanceCents: account.balanceCents, mac: account.mac,
                latestPosition: position, latestEntry: position.flatMap { entries[$0] },
                knownLatestPosition: knownPosition, missingAfterLatest: missing, firstMissingPosition: known.firstMissingPosition)
        }
    }

    /// How many positions after `position`, up to the last entry, hold no entry.
    static func missingPositions(after position: Int64, connection: MariaDBConnection) throws -> Int64 {
        let rows = try connection.query("SELECT COUNT(*), MAX(position) FROM entries WHERE position > ?", [.int(position)])
        guard !rows.rows.isEmpty, rows.rows[0][1] != nil else { return 0 }
        return try rows.int64(0, 1) - position - rows.int64(0, 0)
    }

    /// Entries after `position` up to `last`, in order, at most `limit`.
    static func entries(after position: Int64, through last: Int64, limit: Int, connection: MariaDBConnection) throws -> [SealedEntry] {
        let rows = try connection.query(
            Self.sealedEntrySelect + " WHERE e.position > ? AND e.position <= ? ORDER BY e.position LIMIT ?",
            [.int(position), .int(last), .int(Int64(limit))])
        return try rows.rows.indices.map { try Self.entry(rows, $0) }
    }
}
#endif
