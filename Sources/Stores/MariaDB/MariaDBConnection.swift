#if MariaDB
import CMariaDB
import Glibc
import IntegraLedger

/// A value bound to or read from a prepared statement.
enum MariaDBValue: Hashable, Sendable {
    case int(Int64)
    case text(String)
    case bytes([UInt8])
    case null
}

/// A failure reported by libmariadb, with MariaDB's error number.
struct MariaDBError: Error, CustomStringConvertible {
    let number: UInt32
    let message: String

    /// The connection is unusable and must be discarded.
    var isConnectionLost: Bool {
        [UInt32(CR_SERVER_GONE_ERROR), UInt32(CR_SERVER_LOST), UInt32(CR_CONNECTION_ERROR), UInt32(CR_CONN_HOST_ERROR),
         UInt32(CR_SERVER_LOST_EXTENDED), 1927 /* ER_CONNECTION_KILLED */, 4031 /* client idle disconnect */].contains(self.number)
            || self.number == 0
    }

    /// The transaction lost a lock race and may simply be run again.
    var isTransient: Bool {
        self.number == UInt32(ER_LOCK_DEADLOCK) || self.number == UInt32(ER_LOCK_WAIT_TIMEOUT)
    }

    var isDuplicateKey: Bool { self.number == UInt32(ER_DUP_ENTRY) }

    var description: String { "MariaDB error \(self.number): \(self.message)" }
}

/// Rows of a result: each column as raw bytes (nil for NULL).
struct MariaDBRows {
    var rows: [[[UInt8]?]] = []
    var affectedRows: UInt64 = 0
    var insertID: UInt64 = 0

    func int64(_ row: Int, _ column: Int) throws(MariaDBError) -> Int64 {
        guard row < self.rows.count, let bytes = self.rows[row][column], let value = Int64(String(decoding: bytes, as: UTF8.self)) else {
            throw MariaDBError(number: 0, message: "column \(column) is not an integer")
        }
        return value
    }

    func text(_ row: Int, _ column: Int) throws(MariaDBError) -> String {
        guard row < self.rows.count, let bytes = self.rows[row][column] else {
            throw MariaDBError(number: 0, message: "column \(column) is NULL")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A text column that may be NULL.
    func optionalText(_ row: Int, _ column: Int) throws(MariaDBError) -> String? {
        guard row < self.rows.count else { throw MariaDBError(number: 0, message: "no row \(row)") }
        return self.rows[row][column].map { String(decoding: $0, as: UTF8.self) }
    }
}

/// How `MariaDBConnection.forEachRow` reads a result column.
enum MariaDBColumn {
    /// A signed 64-bit integer (any integer column).
    case integer
    /// Raw bytes (a string or binary column) of at most this many bytes; longer is an error.
    case bytes(maximumCount: Int)
}

/// The current row of `forEachRow`: the buffers libmariadb fills for each row, bound once.
final class MariaDBRowView {
    fileprivate var binds: [MYSQL_BIND]
    private let buffers: [UnsafeMutableRawPointer]
    private let lengths: UnsafeMutablePointer<UInt>
    private let nulls: UnsafeMutablePointer<my_bool>
    private let errors: UnsafeMutablePointer<my_bool>

    fileprivate init(columns: [MariaDBColumn]) {
        self.lengths = .allocate(capacity: columns.count)
        self.lengths.initialize(repeating: 0, count: columns.count)
        self.nulls = .allocate(capacity: columns.count)
        self.nulls.initialize(repeating: 0, count: columns.count)
        self.errors = .allocate(capacity: columns.count)
        self.errors.initialize(repeating: 0, count: columns.count)
        var binds = [MYSQL_BIND](repeating: MYSQL_BIND(), count: columns.count)
        var buffers: [UnsafeMutableRawPointer] = []
        for (index, column) in columns.enumerated() {
            switch column {
            case .integer:
                buffers.append(.allocate(byteCount: 8, alignment: 8))
                binds[index].buffer_type = MYSQL_TYPE_LONGLONG
                binds[index].buffer_length = 8
            case .bytes(let maximumCount):
                buffers.append(.allocate(byteCount: max(maximumCount, 1), alignment: 8))
                binds[index].buffer_type = MYSQL_TYPE_BLOB
                binds[index].buffer_length = UInt(maximumCount)
            }
            binds[index].buffer = buffers[index]
            binds[index].length = self.lengths + index
            binds[index].is_null = self.nulls + index
            binds[index].error = self.errors + index
        }
        self.binds = binds
        self.buffers = buffers
    }

    fileprivate func deallocate() {
        for buffer in self.buffers { buffer.deallocate() }
        self.lengths.deallocate()
        self.nulls.deallocate()
        self.errors.deallocate()
    }

    /// An integer column of the current row; nil for NULL.
    func integer(_ column: Int) -> Int64? {
        self.nulls[column] != 0 ? nil : self.buffers[column].load(as: Int64.self)
    }

    /// A bytes column of the current row, valid until the next row; nil for NULL.
    func bytes(_ column: Int) -> UnsafeRawBufferPointer? {
        self.nulls[column] != 0 ? nil : UnsafeRawBufferPointer(start: self.buffers[column], count: Int(self.lengths[column]))
    }
}

/// One blocking libmariadb connection with a bounded cache of prepared statements.
///
/// Every call blocks the calling thread: it is only ever used on the store's thread pool, by one
/// thread at a time (the pool hands a connection to one job and takes it back afterwards).
final class MariaDBConnection: @unchecked Sendable {
    private let handle: UnsafeMutablePointer<MYSQL>
    private var statements: [String: UnsafeMutablePointer<MYSQL_STMT>] = [:]
    private static let maximumCachedStatements = 256
    /// The longest column value read back; longer values are an error, never truncated.
    private static let maximumColumnBytes = 1024

    init(_ configuration: MariaDBConfiguration) throws(MariaDBError) {
        guard let handle = mysql_init(nil) else { throw MariaDBError(number: 0, message: "out of memory") }
        var connectTimeout = configuration.connectTimeoutSeconds
        var ioTimeout = configuration.readWriteTimeoutSeconds
        mysql_options(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        mysql_options(handle, MYSQL_OPT_CONNECT_TIMEOUT, &connectTimeout)
        mysql_options(handle, MYSQL_OPT_READ_TIMEOUT, &ioTimeout)
        mysql_options(handle, MYSQL_OPT_WRITE_TIMEOUT, &ioTimeout)
        do {
            try Self.setTLSOptions(configuration.tls, on: handle)
        } catch {
            mysql_close(handle)
            throw error
        }
        guard mysql_real_connect(
            handle, configuration.host, configuration.user, configuration.password, configuration.database,
            UInt32(configuration.port), nil, 0) != nil
        else {
            let error = MariaDBError(number: mysql_errno(handle), message: Self.connectFailure(String(cString: mysql_error(handle)), configuration))
            mysql_close(handle)
            throw error
        }
        self.handle = handle
        if configuration.tls.isEncrypted {
            // From here on deinit closes the handle.
            let cipher = try self.sessionCipher()
            guard !cipher.isEmpty else {
                throw MariaDBError(number: UInt32(CR_SSL_CONNECTION_ERROR), message: Self.connectFailure("the session is not encrypted", configuration))
            }
        }
    }

    /// Sets libmariadb's TLS options for `tls`, each explicitly, so that no library default decides.
    ///
    /// `MYSQL_OPT_SSL_ENFORCE` asks for TLS; `MYSQL_OPT_SSL_CA` makes the handshake verify the
    /// server's chain (OpenSSL's peer verification); `MYSQL_OPT_SSL_VERIFY_SERVER_CERT` adds the
    /// host name check and is set to 0 otherwise (libmariadb 3.4 turns it on by default). None of
    /// them proves the session is encrypted: libmariadb 3.3 with ENFORCE and without
    /// VERIFY_SERVER_CERT logs in in clear text to a server without TLS, so `init` checks the
    /// session's cipher afterwards.
    private static func setTLSOptions(_ tls: DatabaseTLS, on handle: UnsafeMutablePointer<MYSQL>) throws(MariaDBError) {
        var enforce: my_bool = 0
        var verifyIdentity: my_bool = 0
        switch tls {
        case .disabled:
            break
        case .required:
            enforce = 1
        case .verifyCA(let path):
            enforce = 1
            try Self.setOption(MYSQL_OPT_SSL_CA, path, on: handle)
        case .verifyIdentity(let path):
            enforce = 1
            verifyIdentity = 1
            try Self.setOption(MYSQL_OPT_SSL_CA, path, on: handle)
        }
        if tls.mode.verifiesCertificate, getenv("MARIADB_TLS_DISABLE_PEER_VERIFICATION") != nil {
            throw MariaDBError(number: 0, message: "MARIADB_TLS_DISABLE_PEER_VERIFICATION is set, which turns off libmariadb's certificate checks; unset it to use --database-tls \(tls.mode.rawValue)")
        }
        guard mysql_options(handle, MYSQL_OPT_SSL_ENFORCE, &enforce) == 0,
              mysql_options(handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verifyIdentity) == 0
        else {
            throw MariaDBError(number: 0, message: "this libmariadb does not take the TLS options")
        }
    }

    private static func setOption(_ option: mysql_option, _ text: String, on handle: UnsafeMutablePointer<MYSQL>) throws(MariaDBError) {
        guard mysql_options(handle, option, text) == 0 else {
            throw MariaDBError(number: 0, message: "this libmariadb does not take the TLS options")
        }
    }

    /// A connection failure as one line for the operator: where, with which TLS mode, and why.
    private static func connectFailure(_ reason: String, _ configuration: MariaDBConfiguration) -> String {
        "cannot connect to \(configuration.host):\(configuration.port) with --database-tls \(configuration.tls.mode.rawValue): \(reason)"
    }

    /// The session's TLS cipher as both ends see it: libmariadb's (`mysql_get_ssl_cipher`) and the
    /// server's (`Ssl_cipher` status); empty unless both say the session is encrypted.
    func sessionCipher() throws(MariaDBError) -> String {
        guard let client = mysql_get_ssl_cipher(self.handle), client.pointee != 0 else { return "" }
        let rows = try self.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        guard rows.rows.count == 1 else { return "" }
        return try rows.text(0, 1)
    }

    deinit {
        for statement in self.statements.values { mysql_stmt_close(statement) }
        mysql_close(self.handle)
    }

    /// Runs a statement without parameters or results (transaction control, DDL).
    func execute(_ sql: String) throws(MariaDBError) {
        guard mysql_real_query(self.handle, sql, UInt(sql.utf8.count)) == 0 else { throw self.connectionError() }
        if let result = mysql_store_result(self.handle) { mysql_free_result(result) }
    }

    /// Runs a prepared statement (prepared once per connection and cached).
    @discardableResult
    func query(_ sql: String, _ parameters: [MariaDBValue] = []) throws(MariaDBError) -> MariaDBRows {
        let statement = try self.execute(sql, parameters)
        var result = MariaDBRows()
        result.affectedRows = mysql_stmt_affected_rows(statement)
        result.insertID = mysql_stmt_insert_id(statement)
        if let metadata = mysql_stmt_result_metadata(statement) {
            let columns = Int(mysql_num_fields(metadata))
            mysql_free_result(metadata)
            result.rows = try self.fetchRows(statement, columns: columns)
        }
        return result
    }

    /// Prepares (or takes from the cache) and executes a statement with its parameters bound.
    private func execute(_ sql: String, _ parameters: [MariaDBValue]) throws(MariaDBError) -> UnsafeMutablePointer<MYSQL_STMT> {
        let statement = try self.prepared(sql)
        precondition(Int(mysql_stmt_param_count(statement)) == parameters.count, "parameter count mismatch in \(sql)")
        var storage: [UnsafeMutableRawPointer] = []
        defer { for pointer in storage { pointer.deallocate() } }
        var binds = [MYSQL_BIND](repeating: MYSQL_BIND(), count: parameters.count)
        for (index, parameter) in parameters.enumerated() {
            switch parameter {
            case .int(let value):
                let pointer = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
                pointer.storeBytes(of: value, as: Int64.self)
                storage.append(pointer)
                binds[index].buffer_type = MYSQL_TYPE_LONGLONG
                binds[index].buffer = pointer
            case .text(let text):
                Self.bindBytes(Array(text.utf8), type: MYSQL_TYPE_STRING, into: &binds[index], storage: &storage)
            case .bytes(let bytes):
                Self.bindBytes(bytes, type: MYSQL_TYPE_BLOB, into: &binds[index], storage: &storage)
            case .null:
                binds[index].buffer_type = MYSQL_TYPE_NULL
            }
        }
        if !binds.isEmpty {
            guard binds.withUnsafeMutableBufferPointer({ mysql_stmt_bind_param(statement, $0.baseAddress) }) == 0 else {
                throw self.statementError(statement)
            }
        }
        guard mysql_stmt_execute(statement) == 0 else { throw self.statementError(statement) }
        return statement
    }

    /// Runs a prepared statement and streams its rows (binary protocol, not buffered) through
    /// buffers bound once, with no allocation per row. `body` sees one row at a time and returns
    /// false to stop early; the rest of the result is then discarded. An error thrown by `body`
    /// comes out unchanged.
    func forEachRow(
        _ sql: String, _ parameters: [MariaDBValue], columns: [MariaDBColumn], _ body: (MariaDBRowView) throws(LedgerError) -> Bool
    ) throws {
        let statement = try self.execute(sql, parameters)
        defer { mysql_stmt_free_result(statement) }
        guard Int(mysql_stmt_field_count(statement)) == columns.count else {
            throw MariaDBError(number: 0, message: "the statement returns \(mysql_stmt_field_count(statement)) columns, not \(columns.count)")
        }
        let row = MariaDBRowView(columns: columns)
        defer { row.deallocate() }
        guard row.binds.withUnsafeMutableBufferPointer({ mysql_stmt_bind_result(statement, $0.baseAddress) }) == 0 else {
            throw self.statementError(statement)
        }
        while true {
            let status = mysql_stmt_fetch(statement)
            if status == MYSQL_NO_DATA { return }
            if status == MYSQL_DATA_TRUNCATED { throw MariaDBError(number: 0, message: "a column value is longer than its buffer") }
            guard status == 0 else { throw self.statementError(statement) }
            guard try body(row) else { return }
        }
    }

    /// Runs an insert; nil when it would duplicate a unique key (the statement is rolled back,
    /// the transaction goes on).
    func insertUnlessDuplicate(_ sql: String, _ parameters: [MariaDBValue]) throws(MariaDBError) -> MariaDBRows? {
        do {
            return try self.query(sql, parameters)
        } catch {
            guard error.isDuplicateKey else { throw error }
            return nil
        }
    }

    private static func bindBytes(_ bytes: [UInt8], type: enum_field_types, into bind: inout MYSQL_BIND, storage: inout [UnsafeMutableRawPointer]) {
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        bytes.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(pointer), byteCount: bytes.count) }
        storage.append(pointer)
        bind.buffer_type = type
        bind.buffer = pointer
        bind.buffer_length = UInt(bytes.count)
    }

    private func fetchRows(_ statement: UnsafeMutablePointer<MYSQL_STMT>, columns: Int) throws(MariaDBError) -> [[[UInt8]?]] {
        guard mysql_stmt_store_result(statement) == 0 else { throw self.statementError(statement) }
        defer { mysql_stmt_free_result(statement) }
        let width = Self.maximumColumnBytes
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: columns * width)
        let lengths = UnsafeMutablePointer<UInt>.allocate(capacity: columns)
        let nulls = UnsafeMutablePointer<my_bool>.allocate(capacity: columns)
        let errors = UnsafeMutablePointer<my_bool>.allocate(capacity: columns)
        defer {
            buffer.deallocate()
            lengths.deallocate()
            nulls.deallocate()
            errors.deallocate()
        }
        var binds = [MYSQL_BIND](repeating: MYSQL_BIND(), count: columns)
        for column in 0..<columns {
            binds[column].buffer_type = MYSQL_TYPE_STRING
            binds[column].buffer = UnsafeMutableRawPointer(buffer + column * width)
            binds[column].buffer_length = UInt(width)
            binds[column].length = lengths + column
            binds[column].is_null = nulls + column
            binds[column].error = errors + column
        }
        guard binds.withUnsafeMutableBufferPointer({ mysql_stmt_bind_result(statement, $0.baseAddress) }) == 0 else {
            throw self.statementError(statement)
        }
        var rows: [[[UInt8]?]] = []
        while true {
            let status = mysql_stmt_fetch(statement)
            if status == MYSQL_NO_DATA { break }
            if status == MYSQL_DATA_TRUNCATED { throw MariaDBError(number: 0, message: "a column value is longer than \(width) bytes") }
            guard status == 0 else { throw self.statementError(statement) }
            var row: [[UInt8]?] = []
            row.reserveCapacity(columns)
            for column in 0..<columns {
                if nulls[column] != 0 {
                    row.append(nil)
                } else {
                    row.append(Array(UnsafeBufferPointer(start: buffer + column * width, count: Int(lengths[column]))))
                }
            }
            rows.append(row)
        }
        return rows
    }

    private func prepared(_ sql: String) throws(MariaDBError) -> UnsafeMutablePointer<MYSQL_STMT> {
        if let statement = self.statements[sql] { return statement }
        if self.statements.count >= Self.maximumCachedStatements {
            for statement in self.statements.values { mysql_stmt_close(statement) }
            self.statements.removeAll()
        }
        guard let statement = mysql_stmt_init(self.handle) else { throw self.connectionError() }
        guard mysql_stmt_prepare(statement, sql, UInt(sql.utf8.count)) == 0 else {
            let error = self.statementError(statement)
            mysql_stmt_close(statement)
            throw error
        }
        self.statements[sql] = statement
        return statement
    }

    private func connectionError() -> MariaDBError {
        MariaDBError(number: mysql_errno(self.handle), message: String(cString: mysql_error(self.handle)))
    }

    private func statementError(_ statement: UnsafeMutablePointer<MYSQL_STMT>) -> MariaDBError {
        MariaDBError(number: mysql_stmt_errno(statement), message: String(cString: mysql_stmt_error(statement)))
    }
}
#endif
