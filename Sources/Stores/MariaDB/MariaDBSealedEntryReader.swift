#if MariaDB
import IntegraLedger
import IntegraVerifier

/// verify's fast path on MariaDB: one pass over the entries, each page streamed straight into
/// the page (`MariaDBConnection.forEachRow`: binary protocol, buffers bound once).
///
/// The entries are read without joining the users table, which costs the server two index
/// lookups per row: names come from a cache loaded once per pass, and reloaded when an entry
/// names a user the cache has not seen. An entry whose user row is gone is left out, as the join
/// of `sealedEntries` leaves it out.
final class MariaDBSealedEntryReader: SealedEntryReader, @unchecked Sendable {
    private let store: MariaDBLedgerStore
    // Used by one read at a time (the pass's contract), each on a pool thread, each starting after
    // the previous one returned.
    private let names = UserNameCache()
    /// Whether the users have been read once.
    private var usersLoaded = false
    /// Every user with an id up to this one that existed when it was read is in `names`.
    private var loadedThroughUserID = Int64.min
    /// Ids that entries named and `names` did not know; looked up before reading on.
    private var missingUserIDs: Set<Int64> = []

    private static let selectEntries = """
        SELECT position, kind, transfer_id, from_user, to_user, amount_cents, from_balance_after,
               to_balance_after, created_at_ms, chain_hash, mac
        FROM entries WHERE position > ? ORDER BY position LIMIT ?
        """
    private static let entryColumns: [MariaDBColumn] = [
        .integer, .integer, .bytes(maximumCount: 1024), .integer, .integer, .integer, .integer, .integer, .integer,
        .bytes(maximumCount: 1024), .bytes(maximumCount: 1024),
    ]
    private static let userColumns: [MariaDBColumn] = [.integer, .bytes(maximumCount: 1024)]
    private static let nodeColumns: [MariaDBColumn] = [.integer, .bytes(maximumCount: 1024)]

    init(store: MariaDBLedgerStore) {
        self.store = store
    }

    func read(afterPosition: Int64, into page: SealedEntryPage) async throws(LedgerError) {
        try await self.store.run { connection in try self.read(afterPosition: afterPosition, into: page, connection) }
    }

    private func read(afterPosition: Int64, into page: SealedEntryPage, _ connection: MariaDBConnection) throws {
        page.removeAll()
        var after = afterPosition
        while !page.isFull {
            try self.loadUsers(connection)
            let limit = page.capacity - page.count
            var scanned = 0
            try connection.forEachRow(Self.selectEntries, [.int(after), .int(Int64(limit))], columns: Self.entryColumns) { row throws(LedgerError) in
                let fromUserID = try Self.integer(row, 3, "from_user")
                let toUserID = try Self.integer(row, 4, "to_user")
                let from = self.names[fromUserID]
                let to = self.names[toUserID]
                if case .unknown = from { self.missingUserIDs.insert(fromUserID) }
                if case .unknown = to { self.missingUserIDs.insert(toUserID) }
                // Stop before this entry; it is read again once its users are known.
                guard self.missingUserIDs.isEmpty else { return false }
                let position = try Self.integer(row, 0, "position")
                scanned += 1
                after = position
                guard case .name(let fromName) = from, case .name(let toName) = to else { return true }
                try page.append(
                    position: position, kind: try Self.integer(row, 1, "kind"), transferID: try Self.bytes(row, 2, "transfer_id"),
                    fromUserID: fromUserID, from: fromName, toUserID: toUserID, to: toName,
                    amountCents: try Self.integer(row, 5, "amount_cents"), fromBalanceAfterCents: try Self.integer(row, 6, "from_balance_after"),
                    toBalanceAfterCents: try Self.integer(row, 7, "to_balance_after"), createdAtMs: try Self.integer(row, 8, "created_at_ms"),
                    chainHash: row.bytes(9), mac: row.bytes(10))
                return !page.isFull
            }
            // Left-out entries count against the limit: a short result is the end of the ledger.
            if self.missingUserIDs.isEmpty && scanned < limit { break }
        }
        try self.readTreeNodes(afterPosition: afterPosition, into: page, connection)
    }

    /// The stored tree nodes the page's leaves complete. Read after the entries: a node is
    /// committed with the entry that completes it, so every node of these entries is there.
    private func readTreeNodes(afterPosition: Int64, into page: SealedEntryPage, _ connection: MariaDBConnection) throws {
        for (level, indices) in page.treeNodeRanges(afterPosition: afterPosition) {
            try connection.forEachRow(
                "SELECT idx, hash FROM tree_nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
                [.int(Int64(level)), .int(Int64(bitPattern: indices.lowerBound)), .int(Int64(bitPattern: indices.upperBound))], columns: Self.nodeColumns
            ) { row throws(LedgerError) in
                page.treeNodes.record(level: level, index: UInt64(bitPattern: try Self.integer(row, 0, "idx")), hash: row.bytes(1))
                return true
            }
        }
    }

    /// Reads the users added since the last load, and any id an entry named that is still
    /// unknown; an id with no user row is recorded as absent.
    private func loadUsers(_ connection: MariaDBConnection) throws {
        guard !self.usersLoaded || !self.missingUserIDs.isEmpty else { return }
        try connection.forEachRow("SELECT id, username FROM users WHERE id > ? ORDER BY id", [.int(self.loadedThroughUserID)], columns: Self.userColumns) { row throws(LedgerError) in
            let userID = try Self.integer(row, 0, "id")
            self.names.record(userID: userID, name: try Self.bytes(row, 1, "username"))
            self.loadedThroughUserID = max(self.loadedThroughUserID, userID)
            return true
        }
        self.usersLoaded = true
        for userID in self.missingUserIDs {
            if case .unknown = self.names[userID] {
                try connection.forEachRow("SELECT id, username FROM users WHERE id = ?", [.int(userID)], columns: Self.userColumns) { row throws(LedgerError) in
                    self.names.record(userID: userID, name: try Self.bytes(row, 1, "username"))
                    return true
                }
            }
            if case .unknown = self.names[userID] { self.names.record(userID: userID, name: nil) }
            if case .unknown = self.names[userID] { preconditionFailure("user \(userID) is still unknown after its lookup") }
        }
        self.missingUserIDs.removeAll()
    }

    private static func integer(_ row: MariaDBRowView, _ column: Int, _ name: String) throws(LedgerError) -> Int64 {
        guard let value = row.integer(column) else { throw .storeUnavailable("MariaDB error 0: column \(name) is NULL") }
        return value
    }

    private static func bytes(_ row: MariaDBRowView, _ column: Int, _ name: String) throws(LedgerError) -> UnsafeRawBufferPointer {
        guard let value = row.bytes(column) else { throw .storeUnavailable("MariaDB error 0: column \(name) is NULL") }
        return value
    }
}
#endif
