import IntegraLedger

/// One connection to the database file through SQLite's C API (`SQLiteCAPI`). Statements are
/// prepared once and reused, and a whole unit of work runs in one call on one thread. Not
/// thread-safe: its owner confines it to one thread at a time.
final class SQLiteConnection {
    let handle: SQLiteCAPI.Handle
    private(set) var isClosed = false

    /// Opens an existing file (only for reading with `readOnly`), or creates it with `creating`.
    init(path: String, busyTimeoutMs: Int32, creating: Bool = false, readOnly: Bool = false) throws(LedgerError) {
        var handle: SQLiteCAPI.Handle?
        let access = readOnly ? SQLiteCAPI.openReadOnly : SQLiteCAPI.openReadWrite | (creating ? SQLiteCAPI.openCreate : 0)
        let opened = SQLiteCAPI.open(path, &handle, flags: access | SQLiteCAPI.openNoMutex)
        guard opened == SQLiteCAPI.ok, let handle else {
            let message = handle.map(SQLiteCAPI.errorMessage) ?? "status \(opened)"
            SQLiteCAPI.close(handle)
            throw .storeUnavailable("cannot open the SQLite database at \(path): \(message)")
        }
        self.handle = handle
        guard SQLiteCAPI.busyTimeout(handle, milliseconds: busyTimeoutMs) == SQLiteCAPI.ok else {
            let error = self.failure()
            SQLiteCAPI.close(handle)
            throw error
        }
    }

    deinit {
        // Statements hold this object alive, so all of them are finalized by now.
        if !self.isClosed { SQLiteCAPI.close(self.handle) }
    }

    /// Closes the connection now: finalizes every statement of the connection (their objects
    /// only check `isClosed` from then on), so the file is released now and not when the last
    /// statement object is released (the last connection to close removes the `-wal` file).
    /// Nothing may use the connection afterwards; its statements fail as the store being closed.
    func close() {
        guard !self.isClosed else { return }
        self.isClosed = true
        while let statement = SQLiteCAPI.nextStatement(self.handle) { SQLiteCAPI.finalize(statement) }
        SQLiteCAPI.closeLater(self.handle)
    }

    /// Runs SQL without parameters, ignoring any rows (pragmas, transaction control, DDL).
    func execute(_ sql: String) throws(LedgerError) {
        guard SQLiteCAPI.execute(self.handle, sql) == SQLiteCAPI.ok else { throw self.failure() }
    }

    /// A statement to keep and run many times (`persistent`), or to run once or a few times.
    func prepare(_ sql: String, persistent: Bool = true) throws(LedgerError) -> SQLiteStatement {
        var statement: SQLiteCAPI.Handle?
        guard SQLiteCAPI.prepare(self.handle, sql, persistent: persistent, &statement) == SQLiteCAPI.ok, let statement else {
            throw self.failure()
        }
        return SQLiteStatement(connection: self, handle: statement)
    }

    /// Runs one statement prepared for this call with `values` bound, calling `row` for each
    /// result row; returns the rows it changed.
    @discardableResult
    func run(_ sql: String, _ values: SQLiteValue..., row: (SQLiteStatement) throws(LedgerError) -> Void = { _ in }) throws(LedgerError) -> Int {
        let statement = try self.prepare(sql, persistent: false)
        try statement.bind(values)
        while try statement.step() { try row(statement) }
        return self.changes
    }

    /// Copies what it can of the WAL into the database file without waiting for, or blocking,
    /// readers and the writer. Returns the WAL's frames and how many of them are now copied.
    @discardableResult
    func checkpointPassively() throws(LedgerError) -> (walFrames: Int, copied: Int) {
        var walFrames: Int32 = 0
        var copied: Int32 = 0
        let status = SQLiteCAPI.checkpointPassively(self.handle, walFrames: &walFrames, copied: &copied)
        guard status == SQLiteCAPI.ok || status == SQLiteCAPI.busy else { throw self.failure() }
        return (Int(walFrames), Int(copied))
    }

    /// Rows changed by the last completed INSERT, UPDATE or DELETE.
    var changes: Int { Int(SQLiteCAPI.changes(self.handle)) }

    func failure() -> LedgerError {
        .storeUnavailable("database error: \(SQLiteCAPI.errorMessage(self.handle))")
    }
}
