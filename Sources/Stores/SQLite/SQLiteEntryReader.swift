import IntegraLedger
import NIOPosix
import VaporCSQLite

/// verify's fast path on SQLite: one pass over the entries, read through SQLite's C API (the copy
/// that sqlite-nio bundles) on the store's reader thread pool.
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
    private let handle: OpaquePointer
    private let entries: OpaquePointer
    private let username: OpaquePointer
    private let names = UserNameCache()

    private static let selectEntries = """
        SELECT position, kind, transfer_id, from_user, to_user, amount_cents, from_balance_after,
               to_balance_after, created_at_ms, chain_hash, mac
        FROM entries WHERE position > ?1 ORDER BY position LIMIT ?2
        """
    private static let selectUsername = "SELECT username FROM users WHERE id = ?1"
    /// How much of the file the reader maps into memory (address space, not resident memory).
    private static let mmapBytes = 1 << 30

    init(path: String) throws(LedgerError) {
        var handle: OpaquePointer?
        let opened = sqlite_nio_sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard opened == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "status \(opened)"
            sqlite_nio_sqlite3_close(handle)
            throw .storeUnavailable("cannot open the SQLite database at \(path) for reading: \(message)")
        }
        var entries: OpaquePointer?
        var username: OpaquePointer?
        let persistent = UInt32(SQLITE_PREPARE_PERSISTENT)
        let ready = sqlite_nio_sqlite3_busy_timeout(handle, 10_000) == SQLITE_OK
            && sqlite_nio_sqlite3_exec(handle, "PRAGMA query_only = ON", nil, nil, nil) == SQLITE_OK
            // Reads straight from the file's pages in memory instead of a read() per page.
            && sqlite_nio_sqlite3_exec(handle, "PRAGMA mmap_size = \(Self.mmapBytes)", nil, nil, nil) == SQLITE_OK
            && sqlite_nio_sqlite3_prepare_v3(handle, Self.selectEntries, -1, persistent, &entries, nil) == SQLITE_OK
            && sqlite_nio_sqlite3_prepare_v3(handle, Self.selectUsername, -1, persistent, &username, nil) == SQLITE_OK
        guard ready, let entries, let username else {
            let error = LedgerError.storeUnavailable("database error: \(String(cString: sqlite_nio_sqlite3_errmsg(handle)))")
            sqlite_nio_sqlite3_finalize(entries)
            sqlite_nio_sqlite3_finalize(username)
            sqlite_nio_sqlite3_close(handle)
            throw error
        }
        self.handle = handle
        self.entries = entries
        self.username = username
    }

    deinit {
        sqlite_nio_sqlite3_finalize(self.entries)
        sqlite_nio_sqlite3_finalize(self.username)
        sqlite_nio_sqlite3_close(self.handle)
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
            if scanned < limit { return }
        }
    }

    /// Appends up to `limit` entries after `after`; returns how many rows the statement gave and
    /// moves `after` to the last of them.
    private func scan(after: inout Int64, limit: Int, into page: SealedEntryPage) throws(LedgerError) -> Int {
        // Resetting ends the statement's read transaction, so the WAL can be checkpointed.
        defer { sqlite_nio_sqlite3_reset(self.entries) }
        guard sqlite_nio_sqlite3_bind_int64(self.entries, 1, after) == SQLITE_OK,
              sqlite_nio_sqlite3_bind_int64(self.entries, 2, Int64(limit)) == SQLITE_OK
        else { throw self.failure() }
        var scanned = 0
        while !page.isFull {
            let status = sqlite_nio_sqlite3_step(self.entries)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else { throw self.failure() }
            scanned += 1
            let position = try self.integer(0, "position")
            after = position
            let fromUserID = try self.integer(3, "from_user")
            let toUserID = try self.integer(4, "to_user")
            guard let from = try self.name(fromUserID), let to = try self.name(toUserID) else { continue }
            try page.append(
                position: position, kind: try self.integer(1, "kind"), transferID: try self.text(self.entries, 2, "transfer_id"),
                fromUserID: fromUserID, from: from, toUserID: toUserID, to: to,
                amountCents: try self.integer(5, "amount_cents"), fromBalanceAfterCents: try self.integer(6, "from_balance_after"),
                toBalanceAfterCents: try self.integer(7, "to_balance_after"), createdAtMs: try self.integer(8, "created_at_ms"),
                chainHash: self.blob(9), mac: self.blob(10))
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
        defer { sqlite_nio_sqlite3_reset(self.username) }
        guard sqlite_nio_sqlite3_bind_int64(self.username, 1, userID) == SQLITE_OK else { throw self.failure() }
        let status = sqlite_nio_sqlite3_step(self.username)
        guard status == SQLITE_ROW || status == SQLITE_DONE else { throw self.failure() }
        self.names.record(userID: userID, name: status == SQLITE_ROW ? try self.text(self.username, 0, "username") : nil)
        guard case .name(let name) = self.names[userID] else { return nil }
        return name
    }

    /// An integer column of the entries statement, converted as the store's other reads convert
    /// it (a real number is truncated, text must spell an integer); anything else is not a row
    /// the schema allows.
    private func integer(_ column: Int32, _ name: String) throws(LedgerError) -> Int64 {
        switch sqlite_nio_sqlite3_column_type(self.entries, column) {
        case SQLITE_INTEGER:
            return sqlite_nio_sqlite3_column_int64(self.entries, column)
        case SQLITE_FLOAT:
            if let value = Int64(exactly: sqlite_nio_sqlite3_column_double(self.entries, column).rounded(.towardZero)) { return value }
        case SQLITE_TEXT:
            if let text = sqlite_nio_sqlite3_column_text(self.entries, column), let value = Int64(String(cString: text)) { return value }
        default:
            break
        }
        throw .storeUnavailable("database error: unexpected value in column \(name)")
    }

    /// A text column's UTF-8 bytes, valid until the statement's next step.
    private func text(_ statement: OpaquePointer, _ column: Int32, _ name: String) throws(LedgerError) -> UnsafeRawBufferPointer {
        guard sqlite_nio_sqlite3_column_type(statement, column) == SQLITE_TEXT else {
            throw .storeUnavailable("database error: unexpected value in column \(name)")
        }
        let bytes = sqlite_nio_sqlite3_column_text(statement, column)
        return UnsafeRawBufferPointer(start: bytes, count: Int(sqlite_nio_sqlite3_column_bytes(statement, column)))
    }

    /// A blob column's bytes, valid until the next step; nil for NULL or a value of another type.
    private func blob(_ column: Int32) -> UnsafeRawBufferPointer? {
        guard sqlite_nio_sqlite3_column_type(self.entries, column) == SQLITE_BLOB else { return nil }
        let bytes = sqlite_nio_sqlite3_column_blob(self.entries, column)
        return UnsafeRawBufferPointer(start: bytes, count: Int(sqlite_nio_sqlite3_column_bytes(self.entries, column)))
    }

    private func failure() -> LedgerError {
        .storeUnavailable("database error: \(String(cString: sqlite_nio_sqlite3_errmsg(self.handle)))")
    }
}
