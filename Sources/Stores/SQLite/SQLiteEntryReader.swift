import IntegraLedger
import IntegraVerifier
import NIOPosix

/// verify's fast path on SQLite: one pass over the entries, read through SQLite's C API on the
/// store's reader thread pool.
final class SQLiteSealedEntryReader: SealedEntryReader, @unchecked Sendable {
    private let path: String
    private let threadPool: NIOThreadPool
    /// Opened by the first read. Reads run one at a time (the pass's contract), each on a pool
    /// thread, and each starts after the previous one returned.
    private var connection: SQLiteEntryConnection?

    init(path: String, threadPool: NIOThreadPool) {
        self.path = path
        self.threadPool = threadPool
    }

    func read(afterPosition: Int64, into page: SealedEntryPage) async throws(LedgerError) {
        do {
            try await self.threadPool.runIfActive {
                if self.connection == nil { self.connection = try SQLiteEntryConnection(path: self.path) }
                try self.connection!.read(afterPosition: afterPosition, into: page)
            }
        } catch let error as LedgerError {
            throw error
        } catch {
            throw .storeUnavailable("database error: \(error)")
        }
    }
}

/// A connection of the reader's own on the same file, used only for reading (WAL lets it read
/// beside the writer), with its statements prepared once. Every column is copied straight from
/// SQLite's row into the page: no value, string or array per row. User names come from a cache
/// filled on first sight, in the same read transaction as the entry that needs them; an entry
/// whose user row is gone is left out, as the join of `sealedEntries` leaves it out.
final class SQLiteEntryConnection {
    private let connection: SQLiteConnection
    private let entries: SQLiteStatement
    private let username: SQLiteStatement
    private let treeNodes: SQLiteStatement
    private let names = UserNameCache()

    private static let selectEntries = """
        SELECT position, kind, transfer_id, from_user, to_user, amount_cents, from_balance_after,
               to_balance_after, created_at_ms, chain_hash, mac
        FROM entries WHERE position > ?1 ORDER BY position LIMIT ?2
        """
    private static let selectUsername = "SELECT username FROM users WHERE id = ?1"
    private static let selectTreeNodes = "SELECT idx, hash FROM tree_nodes WHERE level = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx"
    /// How much of the file the reader maps into memory (address space, not resident memory).
    private static let mmapBytes = 1 << 30

    init(path: String) throws(LedgerError) {
        let connection = try SQLiteConnection(path: path, busyTimeoutMs: 10_000, readOnly: true)
        try connection.execute("PRAGMA query_only = ON")
        // Reads straight from the file's pages in memory instead of a read() per page.
        try connection.execute("PRAGMA mmap_size = \(Self.mmapBytes)")
        self.connection = connection
        self.entries = try connection.prepare(Self.selectEntries)
        self.username = try connection.prepare(Self.selectUsername)
        self.treeNodes = try connection.prepare(Self.selectTreeNodes)
    }

    /// Empties `page` and fills it with the entries after `afterPosition`, until it is full or
    /// the ledger ends.
    func read(afterPosition: Int64, into page: SealedEntryPage) throws(LedgerError) {
        page.removeAll()
        var after = afterPosition
        // Left-out entries count against the statement's limit: go on until the page is full or
        // a statement ends before its limit.
        while !page.isFull {
            let limit = page.capacity - page.count
            let scanned = try self.scan(after: &after, limit: limit, into: page)
            if scanned < limit { break }
        }
        try self.readTreeNodes(afterPosition: afterPosition, into: page)
    }

    /// The stored tree nodes the page's leaves complete. Read after the entries: a node is
    /// committed with the entry that completes it, so every node of these entries is there.
    private func readTreeNodes(afterPosition: Int64, into page: SealedEntryPage) throws(LedgerError) {
        let row = self.treeNodes
        for (level, indices) in page.treeNodeRanges(afterPosition: afterPosition) {
            defer { row.reset() }
            try row.bind(.integer(Int64(level)), .integer(Int64(bitPattern: indices.lowerBound)), .integer(Int64(bitPattern: indices.upperBound)))
            while try row.step() {
                let index = try row.convertedInt64(0, "idx")
                page.treeNodes.record(level: level, index: UInt64(bitPattern: index), hash: row.blobBytes(1))
            }
        }
    }

    /// Appends up to `limit` entries after `after`; returns how many rows the statement gave and
    /// moves `after` to the last of them.
    private func scan(after: inout Int64, limit: Int, into page: SealedEntryPage) throws(LedgerError) -> Int {
        let row = self.entries
        // Resetting ends the statement's read transaction, so the WAL can be checkpointed.
        defer { row.reset() }
        try row.bind(.integer(after), .integer(Int64(limit)))
        var scanned = 0
        while !page.isFull, try row.step() {
            scanned += 1
            let position = try row.convertedInt64(0, "position")
            after = position
            let fromUserID = try row.convertedInt64(3, "from_user")
            let toUserID = try row.convertedInt64(4, "to_user")
            guard let from = try self.name(fromUserID), let to = try self.name(toUserID) else { continue }
            try page.append(
                position: position, kind: try row.convertedInt64(1, "kind"), transferID: try row.textBytes(2, "transfer_id"),
                fromUserID: fromUserID, from: from, toUserID: toUserID, to: to,
                amountCents: try row.convertedInt64(5, "amount_cents"), fromBalanceAfterCents: try row.convertedInt64(6, "from_balance_after"),
                toBalanceAfterCents: try row.convertedInt64(7, "to_balance_after"), createdAtMs: try row.convertedInt64(8, "created_at_ms"),
                chainHash: row.blobBytes(9), mac: row.blobBytes(10))
        }
        return scanned
    }

    /// A user's name from the cache, or read now (inside the entries statement's transaction).
    private func name(_ userID: Int64) throws(LedgerError) -> UnsafeRawBufferPointer? {
        switch self.names[userID] {
        case .name(let name): return name
        case .absent: return nil
        case .unknown: break
        }
        defer { self.username.reset() }
        try self.username.bind(.integer(userID))
        let found = try self.username.step()
        self.names.record(userID: userID, name: found ? try self.username.textBytes(0, "username") : nil)
        guard case .name(let name) = self.names[userID] else { return nil }
        return name
    }
}
