import IntegraLedger
import VaporCSQLite

/// A database connection through SQLite's C API (the copy that sqlite-nio bundles), for the
/// store's hot paths: statements are prepared once and reused, and a whole unit of work runs in
/// one call on one thread. Not thread-safe: its owner confines it to one thread at a time.
final class SQLiteDatabase {
    let handle: OpaquePointer
    private(set) var isClosed = false

    /// Opens an existing file (only for reading with `readOnly`), or creates it with `creating`.
    init(path: String, busyTimeoutMs: Int32, creating: Bool = false, readOnly: Bool = false) throws(LedgerError) {
        var handle: OpaquePointer?
        let access = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (creating ? SQLITE_OPEN_CREATE : 0)
        let flags = access | SQLITE_OPEN_NOMUTEX
        let opened = sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        guard opened == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "status \(opened)"
            sqlite_nio_sqlite3_close(handle)
            throw .storeUnavailable("cannot open the SQLite database at \(path): \(message)")
        }
        self.handle = handle
        guard sqlite_nio_sqlite3_busy_timeout(handle, busyTimeoutMs) == SQLITE_OK else {
            let error = self.failure()
            sqlite_nio_sqlite3_close(handle)
            throw error
        }
    }

    deinit {
        // Statements hold this object alive, so all of them are finalized by now.
        if !self.isClosed { sqlite_nio_sqlite3_close(self.handle) }
    }

    /// Closes the connection now (SQLite finishes closing once the last statement is finalized);
    /// nothing may use it or its statements afterwards.
    func close() {
        guard !self.isClosed else { return }
        self.isClosed = true
        sqlite_nio_sqlite3_close_v2(self.handle)
    }

    /// Runs SQL without results (pragmas, transaction control).
    func execute(_ sql: String) throws(LedgerError) {
        guard sqlite_nio_sqlite3_exec(self.handle, sql, nil, nil, nil) == SQLITE_OK else { throw self.failure() }
    }

    func prepare(_ sql: String) throws(LedgerError) -> SQLiteStatement {
        var statement: OpaquePointer?
        guard sqlite_nio_sqlite3_prepare_v3(self.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK,
              let statement
        else { throw self.failure() }
        return SQLiteStatement(database: self, handle: statement)
    }

    /// Copies what it can of the WAL into the database file without waiting for, or blocking,
    /// readers and the writer. Returns the WAL's frames and how many of them are now copied.
    @discardableResult
    func checkpointPassively() throws(LedgerError) -> (walFrames: Int, copied: Int) {
        var walFrames: Int32 = 0
        var copied: Int32 = 0
        let status = sqlite_nio_sqlite3_wal_checkpoint_v2(self.handle, nil, SQLITE_CHECKPOINT_PASSIVE, &walFrames, &copied)
        guard status == SQLITE_OK || status == SQLITE_BUSY else { throw self.failure() }
        return (Int(walFrames), Int(copied))
    }

    /// Rows changed by the last completed INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite_nio_sqlite3_changes(self.handle)) }

    func failure() -> LedgerError {
        .storeUnavailable("database error: \(String(cString: sqlite_nio_sqlite3_errmsg(self.handle)))")
    }
}

/// One prepared statement. Each use binds, steps, reads columns and ends with `reset()`.
final class SQLiteStatement {
    private let database: SQLiteDatabase
    private let handle: OpaquePointer

    fileprivate init(database: SQLiteDatabase, handle: OpaquePointer) {
        self.database = database
        self.handle = handle
    }

    deinit {
        sqlite_nio_sqlite3_finalize(self.handle)
    }

    /// Binds the parameters, 1-based in the order given.
    func bind(_ values: SQLiteValue...) throws(LedgerError) {
        for (offset, value) in values.enumerated() {
            try self.bind(at: Int32(offset + 1), value)
        }
    }

    /// Binds one parameter (1-based).
    func bind(at index: Int32, _ value: SQLiteValue) throws(LedgerError) {
        let status: Int32
        switch value {
        case .integer(let integer):
            status = sqlite_nio_sqlite3_bind_int64(self.handle, index, integer)
        case .text(let text):
            status = sqlite_nio_sqlite3_bind_text64(self.handle, index, text, UInt64(text.utf8.count), SQLITE_TRANSIENT, UInt8(SQLITE_UTF8))
        case .blob(let bytes) where bytes.isEmpty:
            status = sqlite_nio_sqlite3_bind_zeroblob(self.handle, index, 0)
        case .blob(let bytes):
            status = bytes.withUnsafeBytes {
                sqlite_nio_sqlite3_bind_blob64(self.handle, index, $0.baseAddress, UInt64($0.count), SQLITE_TRANSIENT)
            }
        }
        guard status == SQLITE_OK else { throw self.database.failure() }
    }

    /// Moves to the next row: true when there is one, false when the statement is done.
    func step() throws(LedgerError) -> Bool {
        switch sqlite_nio_sqlite3_step(self.handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw self.database.failure()
        }
    }

    /// Steps to the end, for statements run for their effect; returns the rows changed.
    @discardableResult
    func run() throws(LedgerError) -> Int {
        while try self.step() {}
        return self.database.changes
    }

    /// Ends this use: unbinds nothing, but releases the statement's read of the database.
    func reset() {
        sqlite_nio_sqlite3_reset(self.handle)
    }

    /// An integer column; anything else is not a row the schema allows.
    func int64(_ column: Int32, _ name: String) throws(LedgerError) -> Int64 {
        guard sqlite_nio_sqlite3_column_type(self.handle, column) == SQLITE_INTEGER else { throw Self.unexpected(name) }
        return sqlite_nio_sqlite3_column_int64(self.handle, column)
    }

    /// An integer column converted as sqlite-nio's reads convert it: a real number is truncated,
    /// text must spell an integer; anything else is not a row the schema allows.
    func convertedInt64(_ column: Int32, _ name: String) throws(LedgerError) -> Int64 {
        switch sqlite_nio_sqlite3_column_type(self.handle, column) {
        case SQLITE_INTEGER:
            return sqlite_nio_sqlite3_column_int64(self.handle, column)
        case SQLITE_FLOAT:
            if let value = Int64(exactly: sqlite_nio_sqlite3_column_double(self.handle, column).rounded(.towardZero)) { return value }
        case SQLITE_TEXT:
            if let text = sqlite_nio_sqlite3_column_text(self.handle, column), let value = Int64(String(cString: text)) { return value }
        default:
            break
        }
        throw Self.unexpected(name)
    }

    /// Whether a column is NULL.
    func isNull(_ column: Int32) -> Bool {
        sqlite_nio_sqlite3_column_type(self.handle, column) == SQLITE_NULL
    }

    /// A text column.
    func text(_ column: Int32, _ name: String) throws(LedgerError) -> String {
        String(decoding: try self.textBytes(column, name), as: UTF8.self)
    }

    /// A text column's UTF-8 bytes, valid until the statement's next step or reset.
    func textBytes(_ column: Int32, _ name: String) throws(LedgerError) -> UnsafeRawBufferPointer {
        guard sqlite_nio_sqlite3_column_type(self.handle, column) == SQLITE_TEXT else { throw Self.unexpected(name) }
        let bytes = sqlite_nio_sqlite3_column_text(self.handle, column)
        return UnsafeRawBufferPointer(start: bytes, count: Int(sqlite_nio_sqlite3_column_bytes(self.handle, column)))
    }

    /// A blob column's bytes; nil for NULL or a value of another type.
    func blob(_ column: Int32) -> [UInt8]? {
        self.blobBytes(column).map { Array($0) }
    }

    /// A blob column's bytes, valid until the statement's next step or reset; nil for NULL or a
    /// value of another type.
    func blobBytes(_ column: Int32) -> UnsafeRawBufferPointer? {
        guard sqlite_nio_sqlite3_column_type(self.handle, column) == SQLITE_BLOB else { return nil }
        let bytes = sqlite_nio_sqlite3_column_blob(self.handle, column)
        return UnsafeRawBufferPointer(start: bytes, count: Int(sqlite_nio_sqlite3_column_bytes(self.handle, column)))
    }

    private static func unexpected(_ column: String) -> LedgerError {
        .storeUnavailable("database error: unexpected value in column \(column)")
    }
}

/// A value bound to a statement parameter.
enum SQLiteValue {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
}

private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
