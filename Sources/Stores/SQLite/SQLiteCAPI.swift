// The only file that imports `VaporCSQLite`: the SQLite library sqlite-nio bundles (3.x, its
// symbols prefixed `sqlite_nio_`). It is a module of sqlite-nio, not one of its products, so a
// release of sqlite-nio may rename or drop it without notice. Integra depends on the product
// `SQLiteNIO` only to have this library built and linked, and uses nothing of it but what this
// file re-exposes; `SQLiteCAPITests` fails, naming this file, if any of it changes.
import VaporCSQLite

/// The part of SQLite's C API the store uses, under Swift names: `SQLiteConnection` and
/// `SQLiteStatement` call only these.
enum SQLiteCAPI {
    typealias Handle = OpaquePointer

    // Result codes and flags.
    static let ok = SQLITE_OK
    static let busy = SQLITE_BUSY
    static let row = SQLITE_ROW
    static let done = SQLITE_DONE
    static let openReadOnly = SQLITE_OPEN_READONLY
    static let openReadWrite = SQLITE_OPEN_READWRITE
    static let openCreate = SQLITE_OPEN_CREATE
    static let openNoMutex = SQLITE_OPEN_NOMUTEX

    /// A column's storage class.
    enum ColumnType {
        case integer, float, text, blob, null
    }

    /// The library's version, e.g. 3054001 for 3.54.1.
    static var libraryVersionNumber: Int32 { sqlite_nio_sqlite3_libversion_number() }

    /// Whether the library was built so that distinct connections may be used on distinct threads.
    static var isThreadSafe: Bool { sqlite_nio_sqlite3_threadsafe() != 0 }

    // Connections.

    static func open(_ path: String, _ handle: inout Handle?, flags: Int32) -> Int32 {
        sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
    }

    static func close(_ handle: Handle?) { sqlite_nio_sqlite3_close(handle) }

    /// Closes once the last statement is finalized.
    static func closeLater(_ handle: Handle) { sqlite_nio_sqlite3_close_v2(handle) }

    static func errorMessage(_ handle: Handle) -> String { String(cString: sqlite_nio_sqlite3_errmsg(handle)) }

    static func busyTimeout(_ handle: Handle, milliseconds: Int32) -> Int32 { sqlite_nio_sqlite3_busy_timeout(handle, milliseconds) }

    static func execute(_ handle: Handle, _ sql: String) -> Int32 { sqlite_nio_sqlite3_exec(handle, sql, nil, nil, nil) }

    static func prepare(_ handle: Handle, _ sql: String, persistent: Bool, _ statement: inout Handle?) -> Int32 {
        sqlite_nio_sqlite3_prepare_v3(handle, sql, -1, persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0, &statement, nil)
    }

    static func changes(_ handle: Handle) -> Int32 { sqlite_nio_sqlite3_changes(handle) }

    /// A passive checkpoint of the main database: never waits for readers or the writer.
    static func checkpointPassively(_ handle: Handle, walFrames: inout Int32, copied: inout Int32) -> Int32 {
        sqlite_nio_sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, &walFrames, &copied)
    }

    // Statements.

    static func finalize(_ statement: Handle) { sqlite_nio_sqlite3_finalize(statement) }
    static func nextStatement(_ handle: Handle) -> Handle? { sqlite_nio_sqlite3_next_stmt(handle, nil) }
    static func step(_ statement: Handle) -> Int32 { sqlite_nio_sqlite3_step(statement) }
    static func reset(_ statement: Handle) { sqlite_nio_sqlite3_reset(statement) }

    static func bind(_ statement: Handle, _ index: Int32, integer: Int64) -> Int32 {
        sqlite_nio_sqlite3_bind_int64(statement, index, integer)
    }

    /// Binds a copy of the text (SQLite copies it before returning).
    static func bind(_ statement: Handle, _ index: Int32, text: String) -> Int32 {
        sqlite_nio_sqlite3_bind_text64(statement, index, text, UInt64(text.utf8.count), transient, UInt8(SQLITE_UTF8))
    }

    /// Binds a copy of the bytes (SQLite copies them before returning); no bytes bind an empty blob.
    static func bind(_ statement: Handle, _ index: Int32, blob: UnsafeRawBufferPointer) -> Int32 {
        guard let bytes = blob.baseAddress, blob.count > 0 else { return sqlite_nio_sqlite3_bind_zeroblob(statement, index, 0) }
        return sqlite_nio_sqlite3_bind_blob64(statement, index, bytes, UInt64(blob.count), transient)
    }

    static func bindNull(_ statement: Handle, _ index: Int32) -> Int32 { sqlite_nio_sqlite3_bind_null(statement, index) }

    static func columnType(_ statement: Handle, _ column: Int32) -> ColumnType {
        switch sqlite_nio_sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: .integer
        case SQLITE_FLOAT: .float
        case SQLITE_TEXT: .text
        case SQLITE_BLOB: .blob
        default: .null
        }
    }

    static func int64(_ statement: Handle, _ column: Int32) -> Int64 { sqlite_nio_sqlite3_column_int64(statement, column) }
    static func double(_ statement: Handle, _ column: Int32) -> Double { sqlite_nio_sqlite3_column_double(statement, column) }

    /// A text column's UTF-8 bytes, valid until the statement's next step or reset.
    static func text(_ statement: Handle, _ column: Int32) -> UnsafeRawBufferPointer {
        let bytes = sqlite_nio_sqlite3_column_text(statement, column)
        return UnsafeRawBufferPointer(start: bytes, count: Int(sqlite_nio_sqlite3_column_bytes(statement, column)))
    }

    /// A blob column's bytes, valid until the statement's next step or reset.
    static func blob(_ statement: Handle, _ column: Int32) -> UnsafeRawBufferPointer {
        let bytes = sqlite_nio_sqlite3_column_blob(statement, column)
        return UnsafeRawBufferPointer(start: bytes, count: Int(sqlite_nio_sqlite3_column_bytes(statement, column)))
    }

    /// SQLite's SQLITE_TRANSIENT: copy the bound value now.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
