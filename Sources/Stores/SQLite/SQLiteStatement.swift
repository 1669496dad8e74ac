import IntegraLedger

/// One prepared statement of a `SQLiteConnection`. Each use binds, steps, reads columns and ends
/// with `reset()`.
final class SQLiteStatement {
    private let connection: SQLiteConnection
    private let handle: SQLiteCAPI.Handle

    init(connection: SQLiteConnection, handle: SQLiteCAPI.Handle) {
        self.connection = connection
        self.handle = handle
    }

    deinit {
        // A closed connection has finalized its statements.
        if !self.connection.isClosed { SQLiteCAPI.finalize(self.handle) }
    }

    /// Binds the parameters, 1-based in the order given.
    func bind(_ values: SQLiteValue...) throws(LedgerError) {
        try self.bind(values)
    }

    /// Binds the parameters, 1-based in the order given.
    func bind(_ values: [SQLiteValue]) throws(LedgerError) {
        for (offset, value) in values.enumerated() {
            try self.bind(at: Int32(offset + 1), value)
        }
    }

    /// Binds one parameter (1-based).
    func bind(at index: Int32, _ value: SQLiteValue) throws(LedgerError) {
        try self.whileOpen()
        let status: Int32
        switch value {
        case .integer(let integer):
            status = SQLiteCAPI.bind(self.handle, index, integer: integer)
        case .text(let text):
            status = SQLiteCAPI.bind(self.handle, index, text: text)
        case .blob(let bytes):
            status = bytes.withUnsafeBytes { SQLiteCAPI.bind(self.handle, index, blob: $0) }
        case .null:
            status = SQLiteCAPI.bindNull(self.handle, index)
        }
        guard status == SQLiteCAPI.ok else { throw self.connection.failure() }
    }

    /// Moves to the next row: true when there is one, false when the statement is done.
    func step() throws(LedgerError) -> Bool {
        try self.whileOpen()
        switch SQLiteCAPI.step(self.handle) {
        case SQLiteCAPI.row: return true
        case SQLiteCAPI.done: return false
        default: throw self.connection.failure()
        }
    }

    /// Steps to the end, for statements run for their effect; returns the rows changed.
    @discardableResult
    func run() throws(LedgerError) -> Int {
        while try self.step() {}
        return self.connection.changes
    }

    /// Ends this use: unbinds nothing, but releases the statement's read of the database.
    func reset() {
        if !self.connection.isClosed { SQLiteCAPI.reset(self.handle) }
    }

    /// A statement of a closed connection has been finalized: it fails as the store being closed.
    private func whileOpen() throws(LedgerError) {
        guard !self.connection.isClosed else { throw .storeUnavailable("the store is closed") }
    }

    /// An integer column; anything else is not a row the schema allows.
    func int64(_ column: Int32, _ name: String) throws(LedgerError) -> Int64 {
        guard SQLiteCAPI.columnType(self.handle, column) == .integer else { throw Self.unexpected(name) }
        return SQLiteCAPI.int64(self.handle, column)
    }

    /// An integer column converted as sqlite-nio's reads converted it: a real number is truncated,
    /// text must spell an integer; anything else is not a row the schema allows.
    func convertedInt64(_ column: Int32, _ name: String) throws(LedgerError) -> Int64 {
        guard let value = self.optionalConvertedInt64(column) else { throw Self.unexpected(name) }
        return value
    }

    /// Like `convertedInt64`, but nil for NULL and for what does not convert.
    func optionalConvertedInt64(_ column: Int32) -> Int64? {
        switch SQLiteCAPI.columnType(self.handle, column) {
        case .integer: SQLiteCAPI.int64(self.handle, column)
        case .float: Int64(exactly: SQLiteCAPI.double(self.handle, column).rounded(.towardZero))
        case .text: Int64(String(decoding: SQLiteCAPI.text(self.handle, column), as: UTF8.self))
        case .blob, .null: nil
        }
    }

    /// A column converted to text as sqlite-nio's reads converted it (a number is spelled out);
    /// nil for NULL and for a blob.
    func convertedText(_ column: Int32) -> String? {
        switch SQLiteCAPI.columnType(self.handle, column) {
        case .integer: String(SQLiteCAPI.int64(self.handle, column))
        case .float: String(SQLiteCAPI.double(self.handle, column))
        case .text: String(decoding: SQLiteCAPI.text(self.handle, column), as: UTF8.self)
        case .blob, .null: nil
        }
    }

    /// Whether a column is NULL.
    func isNull(_ column: Int32) -> Bool {
        SQLiteCAPI.columnType(self.handle, column) == .null
    }

    /// A text column.
    func text(_ column: Int32, _ name: String) throws(LedgerError) -> String {
        String(decoding: try self.textBytes(column, name), as: UTF8.self)
    }

    /// A text column's UTF-8 bytes, valid until the statement's next step or reset.
    func textBytes(_ column: Int32, _ name: String) throws(LedgerError) -> UnsafeRawBufferPointer {
        guard SQLiteCAPI.columnType(self.handle, column) == .text else { throw Self.unexpected(name) }
        return SQLiteCAPI.text(self.handle, column)
    }

    /// A blob column's bytes; nil for NULL or a value of another type.
    func blob(_ column: Int32) -> [UInt8]? {
        self.blobBytes(column).map { Array($0) }
    }

    /// A blob column's bytes, valid until the statement's next step or reset; nil for NULL or a
    /// value of another type.
    func blobBytes(_ column: Int32) -> UnsafeRawBufferPointer? {
        guard SQLiteCAPI.columnType(self.handle, column) == .blob else { return nil }
        return SQLiteCAPI.blob(self.handle, column)
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
    case null
}
