import Foundation
public import IntegraLedger
public import Logging
import Foundation
import NIOCore
import NIOPosix
import SQLiteNIO
import Synchronization

/// The embedded store: one SQLite file in WAL mode with synchronous=FULL.
///
/// One connection writes (only through `commit`, one group at a time); another serves reads, which
/// WAL lets run beside the writer. Other processes (the admin commands) may write to the same file
/// while the server runs; SQLite's lock and a busy timeout serialise them.
public final class SQLiteLedgerStore: LedgerStore {
    /// Used only on the writer pool's thread, one commit at a time; nil when opened read-only.
    private let writer: SQLiteWriteConnection?
    private let reader: SQLiteConnection
    /// What the server is about to show or sign, with what its check needs.
    private let evidence: SQLiteEvidenceConnection
    /// Rows and head verified (or written) by this store, shared by the writer and the reads.
    private let verified: VerifiedRowCache
    /// The writer has a thread of its own, so its transaction never waits behind a reader-side
    /// statement that is itself waiting for the writer's lock.
    private let threadPools: [NIOThreadPool]
    private var writerPool: NIOThreadPool { self.threadPools[0] }
    /// The reader connection's pool (the second of `threadPools`).
    private var readerPool: NIOThreadPool { self.threadPools[1] }
    private let seal: LedgerSeal
    private let commitInFlight = Mutex(false)
    private let path: String
    /// The connection of the background WAL checkpoints (`maintain`), and where they log; nil
    /// for a read-only store.
    private let walCheckpointing = Mutex<(checkpointer: WALCheckpointer, logger: Logger)?>(nil)
    /// How often the WAL is copied back into the database file, off the commit path.
    private static let checkpointIntervalMs = 250
    /// The writer checkpoints by itself when the WAL reaches this many pages (32 MiB). Under
    /// steady writes the background checkpoints have copied almost all of it by then, so the
    /// writer's own checkpoint is short; then the WAL starts over. (A background checkpoint alone
    /// cannot restart the WAL while commits keep coming.)
    private static let walAutocheckpointPages = 8192
    private static let busyTimeoutMs: Int32 = 10_000

    private init(writer: SQLiteWriteConnection?, reader: SQLiteConnection, threadPools: [NIOThreadPool], path: String, seal: LedgerSeal, verified: VerifiedRowCache) {
        self.seal = seal
        self.writer = writer
        self.reader = reader
        self.threadPools = threadPools
        self.path = path
        self.verified = verified
        self.evidence = SQLiteEvidenceConnection(path: path, threadPool: threadPools[1], verified: verified)
    }

    /// How a store is opened.
    public enum Mode: Sendable {
        /// Create the file if needed, upgrade its schema, write.
        case readWrite
        /// Read an existing file as it is: no file, no schema upgrade and no write (`verify`).
        case readOnly
    }

    /// Opens (creating if needed) the database file and brings its schema up to date; read-only,
    /// opens an existing file at the latest schema version and never writes to it.
    public static func open(path: String, seal: LedgerSeal, mode: Mode = .readWrite, logger: Logger = Logger(label: "integra.sqlite")) async throws(LedgerError) -> SQLiteLedgerStore {
        let writerPool = NIOThreadPool(numberOfThreads: 1)
        let readerPool = NIOThreadPool(numberOfThreads: 2)
        let threadPools = [writerPool, readerPool]
        for pool in threadPools { pool.start() }
        let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
        do {
            if case .readOnly = mode {
                let store = try await Self.openReadOnly(path: path, seal: seal, threadPools: threadPools, logger: logger)
                return store
            }
            // Migrations run on a connection of their own, closed once the schema is current.
            let migrator = try await SQLiteConnection.open(storage: .file(path: path), threadPool: writerPool, logger: logger, on: eventLoop)
            let reader = try await SQLiteConnection.open(storage: .file(path: path), threadPool: readerPool, logger: logger, on: eventLoop)
            for connection in [migrator, reader] {
                _ = try await connection.query("PRAGMA busy_timeout = \(Self.busyTimeoutMs)")
                _ = try await connection.query("PRAGMA foreign_keys = ON")
                // Statement journals in memory, not in temporary files written on every group
                // commit. Durability is unchanged: it comes from the WAL, synced at every commit.
                _ = try await connection.query("PRAGMA temp_store = MEMORY")
                _ = try await connection.query("PRAGMA synchronous = FULL")
            }
            _ = try await migrator.query("PRAGMA journal_mode = WAL")
            do {
                try await Self.migrate(migrator, seal: seal)
                try await migrator.close()
            } catch {
                try? await migrator.close()
                throw error
            }
            let verified = VerifiedRowCache()
            let writer = try await writerPool.runIfActive {
                let writer = try SQLiteWriteConnection(path: path, seal: seal, verified: verified, busyTimeoutMs: Self.busyTimeoutMs)
                try writer.setWALAutocheckpoint(pages: Self.walAutocheckpointPages)
                return writer
            }
            let checkpointer = try await readerPool.runIfActive { try WALCheckpointer(path: path) }
            let store = SQLiteLedgerStore(writer: writer, reader: reader, threadPools: threadPools, path: path, seal: seal, verified: verified)
            store.walCheckpointing.withLock { $0 = (checkpointer, logger) }
            return store
        } catch let error as LedgerError {
            for pool in threadPools { try? await pool.shutdownGracefully() }
            throw error
        } catch {
            for pool in threadPools { try? await pool.shutdownGracefully() }
            throw .storeUnavailable("cannot open the SQLite database at \(path): \(error)")
        }
    }

    /// A store over an existing file, through a read-only connection (a URI with `mode=ro`), at
    /// the latest schema version: nothing is created, upgraded or written.
    private static func openReadOnly(path: String, seal: LedgerSeal, threadPools: [NIOThreadPool], logger: Logger) async throws -> SQLiteLedgerStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw LedgerError.storeUnavailable("there is no SQLite database at \(path)")
        }
        let uri = "file:" + (path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path) + "?mode=ro"
        let reader = try await SQLiteConnection.open(storage: .file(path: uri), threadPool: threadPools[1], logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
        do {
            _ = try await reader.query("PRAGMA busy_timeout = \(Self.busyTimeoutMs)")
            _ = try await reader.query("PRAGMA query_only = ON")
            let rows = try await reader.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
            let version = rows.isEmpty ? 0 : Int64(try await reader.query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version").first?.column("v")?.integer ?? 0)
            guard version == SQLiteSchema.latestVersion else {
                throw LedgerError.storeUnavailable("the database at \(path) is at schema version \(version), not \(SQLiteSchema.latestVersion): run `integra-server migrate` first")
            }
        } catch {
            try? await reader.close()
            throw error
        }
        return SQLiteLedgerStore(writer: nil, reader: reader, threadPools: threadPools, path: path, seal: seal, verified: VerifiedRowCache())
    }

    /// The schema version the file is at.
    public func schemaVersion() async throws(LedgerError) -> Int64 {
        try await self.run {
            let rows = try await self.reader.query("SELECT MAX(version) AS v FROM schema_version")
            return rows.first?.column("v")?.integer.map(Int64.init) ?? 0
        }
    }

    private static func migrate(_ writer: SQLiteConnection, seal: LedgerSeal) async throws {
        _ = try await writer.query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        for migration in SQLiteSchema.migrations {
            _ = try await writer.query("BEGIN IMMEDIATE")
            do {
                let rows = try await writer.query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version")
                let current = Int64(rows.first?.column("v")?.integer ?? 0)
                if current < migration.version {
                    precondition(current == migration.version - 1, "migrations are applied in order")
                    for statement in migration.statements {
                        _ = try await writer.query(statement)
                    }
                    if migration.version == 3 { try await Self.sealExistingRows(writer, seal: seal) }
                    if migration.version == 6 { try await Self.resealUsers(writer, seal: seal) }
                    if migration.version == 7 { try await Self.fillNameKeys(writer) }
                    _ = try await writer.query("INSERT INTO schema_version (version) VALUES (?)", [.integer(Int(migration.version))])
                }
                _ = try await writer.query("COMMIT")
            } catch {
                _ = try? await writer.query("ROLLBACK")
                throw error
            }
        }
    }

    /// Seals user rows with a credential version (0): only rows whose earlier seal is right, so
    /// a row changed outside Integra before the upgrade stays detectable.
    private static func resealUsers(_ writer: SQLiteConnection, seal: LedgerSeal) async throws {
        for row in try await writer.query("SELECT id, username, password_hash, mac FROM users") {
            let id = try row.int64("id")
            let name = try row.text("username")
            let hash = try row.text("password_hash")
            guard seal.isValid(row.bytes("mac"), expected: seal.legacyUserMAC(userID: id, username: name, passwordHash: hash)) else { continue }
            let mac = seal.userMAC(userID: id, username: name, passwordHash: hash, credentialVersion: 0)
            _ = try await writer.query("UPDATE users SET mac = ? WHERE id = ?", [.blob(ByteBuffer(bytes: mac)), .integer(Int(id))])
        }
    }

    /// Gives every user row the form names are looked up by and its skeleton (names stored under
    /// the earlier rules keep their stored bytes, which the chain covers), then makes both unique.
    /// Where two earlier names now collide, the older account keeps the key and the later one
    /// gets none (it is no longer found by name; the operator is told by `migrate`).
    private static func fillNameKeys(_ writer: SQLiteConnection) async throws {
        var lookups = Set<String>()
        var skeletons = Set<String>()
        for row in try await writer.query("SELECT id, username FROM users ORDER BY id") {
            let keys = Username.keys(forStoredName: try row.text("username"))
            let unique = !lookups.contains(keys.lookupForm) && !skeletons.contains(keys.skeleton)
            if unique {
                lookups.insert(keys.lookupForm)
                skeletons.insert(keys.skeleton)
            }
            _ = try await writer.query(
                "UPDATE users SET lookup_name = ?, skeleton = ? WHERE id = ?",
                unique ? [.text(keys.lookupForm), .text(keys.skeleton), .integer(Int(try row.int64("id")))] : [.null, .null, .integer(Int(try row.int64("id")))])
        }
        _ = try await writer.query("CREATE UNIQUE INDEX users_lookup ON users(lookup_name)")
        _ = try await writer.query("CREATE UNIQUE INDEX users_skeleton ON users(skeleton)")
    }

    /// Seals rows written before the schema had seals: users, accounts, and the entries' chain.
    private static func sealExistingRows(_ writer: SQLiteConnection, seal: LedgerSeal) async throws {
        for row in try await writer.query("SELECT id, username, password_hash FROM users") {
            let id = try row.int64("id")
            let mac = seal.legacyUserMAC(userID: id, username: try row.text("username"), passwordHash: try row.text("password_hash"))
            _ = try await writer.query("UPDATE users SET mac = ? WHERE id = ?", [.blob(ByteBuffer(bytes: mac)), .integer(Int(id))])
        }
        for row in try await writer.query("SELECT user_id, balance_cents FROM accounts") {
            let id = try row.int64("user_id")
            let mac = seal.accountMAC(userID: id, balanceCents: try row.int64("balance_cents"))
            _ = try await writer.query("UPDATE accounts SET mac = ? WHERE user_id = ?", [.blob(ByteBuffer(bytes: mac)), .integer(Int(id))])
        }
        var previous = LedgerSeal.genesisHash
        for row in try await writer.query(Self.entrySelect + " ORDER BY e.position") {
            let entry = try Self.entry(from: row)
            previous = LedgerSeal.chainHash(previous: previous, entry: entry)
            let mac = seal.entryMAC(position: entry.position, chainHash: previous)
            _ = try await writer.query(
                "UPDATE entries SET chain_hash = ?, mac = ? WHERE position = ?",
                [.blob(ByteBuffer(bytes: previous)), .blob(ByteBuffer(bytes: mac)), .integer(Int(entry.position))])
        }
    }

    /// Copies the WAL back into the database file every `checkpointIntervalMs` on a connection of
    /// its own until the task is cancelled, so that no group commit waits for a long checkpoint
    /// (the writer's own automatic checkpoint would otherwise copy and sync up to 32 MiB inside a
    /// commit). Passive checkpoints never block the writer. The deployment runs it as a service.
    public func maintain() async {
        guard let (checkpointer, logger) = self.walCheckpointing.withLock({ $0 }) else { return }
        let pool = self.readerPool
        var failing = false
        while (try? await Task.sleep(for: .milliseconds(Self.checkpointIntervalMs))) != nil {
            do {
                try await pool.runIfActive { try checkpointer.run() }
                failing = false
            } catch {
                if !failing && !Task.isCancelled { logger.warning("WAL checkpoint failed", metadata: ["error": "\(error)"]) }
                failing = true
            }
        }
    }

    public func close() async {
        try? await self.reader.close()
        await self.evidence.close()
        // After any commit already queued on the writer's thread.
        if let writer = self.writer { try? await self.writerPool.runIfActive { writer.close() } }
        for pool in self.threadPools { try? await pool.shutdownGracefully() }
    }

    // MARK: Writes

    public func commit(_ requests: [WriteRequest], nowMs: Int64) async throws(LedgerError) -> [WriteOutcome] {
        self.commitInFlight.withLock { inFlight in
            precondition(!inFlight, "only one commit at a time per store")
            inFlight = true
        }
        defer { self.commitInFlight.withLock { $0 = false } }
        guard let writer = self.writer else { throw .storeUnavailable("the store is open read-only") }
        return try await self.run {
            try await self.writerPool.runIfActive { try writer.commit(requests, nowMs: nowMs) }
        }
    }

    // MARK: Reads

    private static let entrySelect = """
        SELECT e.position, e.kind, e.transfer_id, e.from_user, e.to_user, e.amount_cents,
               e.from_balance_after, e.to_balance_after, e.created_at_ms,
               fu.username AS from_name, tu.username AS to_name
        FROM entries e JOIN users fu ON fu.id = e.from_user JOIN users tu ON tu.id = e.to_user
        """

    private static let sealedEntrySelect = entrySelect.replacingOccurrences(of: "SELECT e.position", with: "SELECT e.chain_hash, e.mac, e.position")

    private static func entry(from row: SQLiteRow) throws -> LedgerEntry {
        guard let kind = EntryKind(rawValue: try row.int64("kind")) else { throw StoreRowError(column: "kind") }
        let amountCents = try row.int64("amount_cents")
        guard kind.allows(amountCents: amountCents) else { throw StoreRowError(column: "amount_cents") }
        return LedgerEntry(
            position: try row.int64("position"), kind: kind,
            transferID: TransferID(trusted: try row.text("transfer_id")),
            fromUserID: try row.int64("from_user"), from: Username(trustedCanonical: try row.text("from_name")),
            toUserID: try row.int64("to_user"), to: Username(trustedCanonical: try row.text("to_name")),
            amount: Amount(cents: amountCents),
            fromBalanceAfterCents: try row.int64("from_balance_after"), toBalanceAfterCents: try row.int64("to_balance_after"),
            createdAtMs: try row.int64("created_at_ms"))
    }

    public func user(named username: Username) async throws(LedgerError) -> UserRecord? {
        try await self.evidence.user(named: username, seal: self.seal)
    }

    public func account(ofUserID userID: Int64) async throws(LedgerError) -> AccountEvidence? {
        try await self.evidence.account(ofUserID: userID)
    }

    public func sealedHistory(ofUserID userID: Int64, beforePosition: Int64?, limit: Int) async throws(LedgerError) -> [EntryEvidence] {
        precondition(limit >= 1 && limit <= 1000)
        return try await self.evidence.history(ofUserID: userID, beforePosition: beforePosition, limit: limit)
    }

    public func entry(at position: Int64) async throws(LedgerError) -> EntryEvidence? {
        try await self.evidence.entry(at: position)
    }

    public func alarms(limit: Int) async throws(LedgerError) -> [SealedAlarm] {
        try await self.evidence.alarms(limit: limit)
    }

    public func recordAlarm(_ alarm: AlarmRecord) async throws(LedgerError) {
        let mac = self.seal.alarmMAC(alarm)
        try await self.run {
            _ = try await self.reader.query("""
                INSERT INTO alarms (id, kind, detail, raised_at_ms, acknowledged_at_ms, acknowledgement, mac) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET acknowledged_at_ms = excluded.acknowledged_at_ms, acknowledgement = excluded.acknowledgement, mac = excluded.mac
                """,
                [.text(alarm.id), .text(alarm.kind), .text(alarm.detail), .integer(Int(alarm.raisedAtMs)),
                 alarm.acknowledgedAtMs.map { .integer(Int($0)) } ?? .null, alarm.acknowledgement.map { .text($0) } ?? .null,
                 .blob(ByteBuffer(bytes: mac))])
        }
    }

    public func forgetVerifiedRows() async {
        self.verified.forgetAll()
    }

    public func pruneNonces(olderThanMs: Int64) async throws(LedgerError) -> Int {
        try await self.run {
            let current = try await self.reader.query(
                "DELETE FROM request_nonces WHERE timestamp_ms < ? RETURNING 1 AS gone", [.integer(Int(olderThanMs))])
            // An earlier record expired at its timestamp plus the window of its day, so it is
            // gone once that is before the cut too.
            let earlier = try await self.reader.query(
                "DELETE FROM nonces WHERE expires_at_ms < ? RETURNING 1 AS gone", [.integer(Int(olderThanMs))])
            return current.count + earlier.count
        }
    }

    public func setting(_ setting: Setting) async throws(LedgerError) -> Int64? {
        try await self.run {
            try await self.reader.query("SELECT value FROM settings WHERE name = ?", [.text(setting.rawValue)]).first?.int64("value")
        }
    }

    public func record(_ setting: Setting, _ value: Int64, onlyRaise: Bool) async throws(LedgerError) -> Int64 {
        guard self.writer != nil else { throw .storeUnavailable("the store is open read-only") }
        return try await self.run {
            let update = onlyRaise ? "MAX(value, excluded.value)" : "excluded.value"
            let rows = try await self.reader.query(
                "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = \(update) RETURNING value",
                [.text(setting.rawValue), .integer(Int(value))])
            return try rows.first?.int64("value") ?? value
        }
    }

    public func summary() async throws(LedgerError) -> LedgerSummary {
        try await self.run {
            let rows = try await self.reader.query("""
                SELECT
                  (SELECT COALESCE(SUM(balance_cents), 0) FROM accounts WHERE user_id <> 0) AS customer_balance,
                  (SELECT COALESCE(SUM(amount_cents), 0) FROM entries WHERE kind = 2) AS deposited,
                  (SELECT balance_cents FROM accounts WHERE user_id = 0) AS system_balance,
                  (SELECT COUNT(*) FROM users WHERE kind = 0) AS customers,
                  (SELECT COUNT(*) FROM entries) AS entries
                """)
            let row = rows[0]
            return LedgerSummary(
                customerBalanceCents: try row.int64("customer_balance"), depositedCents: try row.int64("deposited"),
                systemBalanceCents: try row.int64("system_balance"), customers: try row.int64("customers"),
                entries: try row.int64("entries"))
        }
    }

    public func bindDeployment(fingerprint: [UInt8]) async throws(LedgerError) {
        let stored: [UInt8] = try await self.run {
            let rows = try await self.reader.query("SELECT fingerprint FROM deployment WHERE id = 1")
            if let row = rows.first { return row.column("fingerprint")?.blob.map { Array($0.readableBytesView) } ?? [] }
            // A read-only store is never bound here: it belongs to no deployment yet.
            guard self.writer != nil else { return [] }
            let inserted = try await self.reader.query(
                "INSERT INTO deployment (id, fingerprint) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET id = id RETURNING fingerprint",
                [.blob(ByteBuffer(bytes: fingerprint))])
            return inserted.first?.column("fingerprint")?.blob.map { Array($0.readableBytesView) } ?? []
        }
        guard stored == fingerprint else { throw .deploymentMismatch }
    }

    public func sealedEntries(afterPosition: Int64, limit: Int) async throws(LedgerError) -> [SealedEntry] {
        try await self.run {
            let rows = try await self.reader.query(
                Self.sealedEntrySelect + " WHERE e.position > ? ORDER BY e.position LIMIT ?",
                [.integer(Int(afterPosition)), .integer(limit)])
            return try rows.map { row in
                SealedEntry(entry: try Self.entry(from: row), chainHash: row.bytes("chain_hash"), mac: row.bytes("mac"))
            }
        }
    }

    /// Reads through SQLite's C API on a connection of its own (see `SQLiteSealedEntryReader`),
    /// on the reader thread pool.
    public func makeSealedEntryReader() async throws(LedgerError) -> any SealedEntryReader {
        SQLiteSealedEntryReader(path: self.path, threadPool: self.readerPool)
    }

    public func head() async throws(LedgerError) -> (position: Int64, chainHash: [UInt8]) {
        try await self.run {
            let rows = try await self.reader.query("SELECT position, chain_hash FROM entries ORDER BY position DESC LIMIT 1")
            guard let row = rows.first else { return (0, LedgerSeal.genesisHash) }
            return (try row.int64("position"), row.bytes("chain_hash") ?? [])
        }
    }

    public func recordCheckpoint(_ checkpoint: LedgerCheckpoint) async throws(LedgerError) {
        try await self.run {
            _ = try await self.reader.query(
                "INSERT OR IGNORE INTO checkpoints (position, chain_hash, created_at_ms, signature) VALUES (?, ?, ?, ?)",
                [.integer(Int(checkpoint.position)), .blob(ByteBuffer(bytes: checkpoint.chainHash)), .integer(Int(checkpoint.createdAtMs)), .blob(ByteBuffer(bytes: checkpoint.signature))])
        }
    }

    public func checkpoints() async throws(LedgerError) -> [LedgerCheckpoint] {
        try await self.run {
            let rows = try await self.reader.query("SELECT position, chain_hash, created_at_ms, signature FROM checkpoints ORDER BY position")
            return try rows.map { row in
                LedgerCheckpoint(position: try row.int64("position"), chainHash: row.bytes("chain_hash") ?? [], createdAtMs: try row.int64("created_at_ms"), signature: row.bytes("signature") ?? [])
            }
        }
    }

    public func sealedAccounts() async throws(LedgerError) -> [SealedAccount] {
        try await self.run {
            let rows = try await self.reader.query("SELECT a.user_id, u.username, a.balance_cents, a.mac FROM accounts a JOIN users u ON u.id = a.user_id ORDER BY a.user_id")
            return try rows.map { row in
                SealedAccount(userID: try row.int64("user_id"), username: try row.text("username"), balanceCents: try row.int64("balance_cents"), mac: row.bytes("mac"))
            }
        }
    }

    public func sealedUsers() async throws(LedgerError) -> [SealedUser] {
        try await self.run {
            let rows = try await self.reader.query("SELECT id, username, password_hash, credential_version, mac, lookup_name, skeleton, kind FROM users ORDER BY id")
            return try rows.map { row in
                SealedUser(
                    id: try row.int64("id"), username: try row.text("username"), passwordHash: try row.text("password_hash"),
                    credentialVersion: try row.int64("credential_version"), mac: row.bytes("mac"),
                    keys: UserKeys(lookupName: row.column("lookup_name")?.string, skeleton: row.column("skeleton")?.string, kind: try row.int64("kind")))
            }
        }
    }

    /// Runs store work, turning any failure into the store's expected error.
    private func run<T>(_ body: () async throws -> T) async throws(LedgerError) -> T {
        do {
            return try await body()
        } catch let error as LedgerError {
            throw error
        } catch {
            throw .storeUnavailable("database error: \(error)")
        }
    }
}

/// The connection of the store's background checkpoints; the loop uses it one call at a time.
private final class WALCheckpointer: @unchecked Sendable {
    private let database: SQLiteDatabase

    init(path: String) throws(LedgerError) {
        // No busy wait: a checkpoint that cannot run now runs at the next interval.
        self.database = try SQLiteDatabase(path: path, busyTimeoutMs: 0)
    }

    func run() throws(LedgerError) {
        try self.database.checkpointPassively()
    }
}

/// A row read back from the database does not have the shape the schema promises.
struct StoreRowError: Error, CustomStringConvertible {
    let column: String
    var description: String { "unexpected value in column \(self.column)" }
}

extension SQLiteRow {
    func int64(_ column: String) throws -> Int64 {
        guard let value = self.column(column)?.integer else { throw StoreRowError(column: column) }
        return Int64(value)
    }

    func bytes(_ column: String) -> [UInt8]? {
        self.column(column)?.blob.map { Array($0.readableBytesView) }
    }

    func text(_ column: String) throws -> String {
        guard case .text(let value)? = self.column(column) else { throw StoreRowError(column: column) }
        return value
    }
}
