public import IntegraLedger
public import Logging
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
    private let writer: SQLiteConnection
    private let reader: SQLiteConnection
    /// The writer has a thread of its own, so its transaction never waits behind a reader-side
    /// statement that is itself waiting for the writer's lock.
    private let threadPools: [NIOThreadPool]
    /// The reader connection's pool (the second of `threadPools`).
    private var readerPool: NIOThreadPool { self.threadPools[1] }
    private let seal: LedgerSeal
    private let commitInFlight = Mutex(false)
    private let path: String
    /// Rows per multi-row statement; keeps bound parameters far below SQLite's limit.
    private static let rowsPerStatement = 100
    /// WAL pages between automatic checkpoints.
    private static let walAutocheckpointPages = 8192

    private init(writer: SQLiteConnection, reader: SQLiteConnection, threadPools: [NIOThreadPool], path: String, seal: LedgerSeal) {
        self.seal = seal
        self.writer = writer
        self.reader = reader
        self.threadPools = threadPools
        self.path = path
    }

    /// Opens (creating if needed) the database file and brings its schema up to date.
    public static func open(path: String, seal: LedgerSeal, logger: Logger = Logger(label: "integra.sqlite")) async throws(LedgerError) -> SQLiteLedgerStore {
        let writerPool = NIOThreadPool(numberOfThreads: 1)
        let readerPool = NIOThreadPool(numberOfThreads: 2)
        let threadPools = [writerPool, readerPool]
        for pool in threadPools { pool.start() }
        let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
        do {
            let writer = try await SQLiteConnection.open(storage: .file(path: path), threadPool: writerPool, logger: logger, on: eventLoop)
            let reader = try await SQLiteConnection.open(storage: .file(path: path), threadPool: readerPool, logger: logger, on: eventLoop)
            for connection in [writer, reader] {
                _ = try await connection.query("PRAGMA busy_timeout = 10000")
                _ = try await connection.query("PRAGMA foreign_keys = ON")
                // Statement journals (for multi-row statements that could fail halfway) in memory,
                // not in temporary files written on every group commit. Durability is unchanged:
                // it comes from the WAL, synced at every commit.
                _ = try await connection.query("PRAGMA temp_store = MEMORY")
            }
            _ = try await writer.query("PRAGMA journal_mode = WAL")
            // Checkpoint the WAL into the database file every 8,192 pages (32 MiB) rather than
            // every 1,000: pages that many group commits touch are copied back once, not each time.
            _ = try await writer.query("PRAGMA wal_autocheckpoint = \(Self.walAutocheckpointPages)")
            for connection in [writer, reader] {
                _ = try await connection.query("PRAGMA synchronous = FULL")
            }
            let store = SQLiteLedgerStore(writer: writer, reader: reader, threadPools: threadPools, path: path, seal: seal)
            try await store.migrate()
            return store
        } catch let error as LedgerError {
            for pool in threadPools { try? await pool.shutdownGracefully() }
            throw error
        } catch {
            for pool in threadPools { try? await pool.shutdownGracefully() }
            throw .storeUnavailable("cannot open the SQLite database at \(path): \(error)")
        }
    }

    /// The schema version the file is at.
    public func schemaVersion() async throws(LedgerError) -> Int64 {
        try await self.run {
            let rows = try await self.reader.query("SELECT MAX(version) AS v FROM schema_version")
            return rows.first?.column("v")?.integer.map(Int64.init) ?? 0
        }
    }

    private func migrate() async throws {
        _ = try await self.writer.query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        for migration in SQLiteSchema.migrations {
            _ = try await self.writer.query("BEGIN IMMEDIATE")
            do {
                let rows = try await self.writer.query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version")
                let current = Int64(rows.first?.column("v")?.integer ?? 0)
                if current < migration.version {
                    precondition(current == migration.version - 1, "migrations are applied in order")
                    for statement in migration.statements {
                        _ = try await self.writer.query(statement)
                    }
                    if migration.version == 3 { try await self.sealExistingRows() }
                    _ = try await self.writer.query("INSERT INTO schema_version (version) VALUES (?)", [.integer(Int(migration.version))])
                }
                _ = try await self.writer.query("COMMIT")
            } catch {
                _ = try? await self.writer.query("ROLLBACK")
                throw error
            }
        }
    }

    /// Seals rows written before the schema had seals: users, accounts, and the entries' chain.
    private func sealExistingRows() async throws {
        for row in try await self.writer.query("SELECT id, username, password_hash FROM users") {
            let id = try row.int64("id")
            let mac = self.seal.userMAC(userID: id, username: try row.text("username"), passwordHash: try row.text("password_hash"))
            _ = try await self.writer.query("UPDATE users SET mac = ? WHERE id = ?", [.blob(ByteBuffer(bytes: mac)), .integer(Int(id))])
        }
        for row in try await self.writer.query("SELECT user_id, balance_cents FROM accounts") {
            let id = try row.int64("user_id")
            let mac = self.seal.accountMAC(userID: id, balanceCents: try row.int64("balance_cents"))
            _ = try await self.writer.query("UPDATE accounts SET mac = ? WHERE user_id = ?", [.blob(ByteBuffer(bytes: mac)), .integer(Int(id))])
        }
        var previous = LedgerSeal.genesisHash
        for row in try await self.writer.query(Self.entrySelect + " ORDER BY e.position") {
            let entry = try Self.entry(from: row)
            previous = LedgerSeal.chainHash(previous: previous, entry: entry)
            let mac = self.seal.entryMAC(position: entry.position, chainHash: previous)
            _ = try await self.writer.query(
                "UPDATE entries SET chain_hash = ?, mac = ? WHERE position = ?",
                [.blob(ByteBuffer(bytes: previous)), .blob(ByteBuffer(bytes: mac)), .integer(Int(entry.position))])
        }
    }

    public func close() async {
        try? await self.writer.close()
        try? await self.reader.close()
        for pool in self.threadPools { try? await pool.shutdownGracefully() }
    }

    // MARK: Writes

    public func commit(_ requests: [WriteRequest], nowMs: Int64) async throws(LedgerError) -> [WriteOutcome] {
        self.commitInFlight.withLock { inFlight in
            precondition(!inFlight, "only one commit at a time per store")
            inFlight = true
        }
        defer { self.commitInFlight.withLock { $0 = false } }
        return try await self.run {
            _ = try await self.writer.query("BEGIN IMMEDIATE")
            do {
                let outcomes = try await self.apply(requests, nowMs: nowMs)
                _ = try await self.writer.query("COMMIT")
                return outcomes
            } catch {
                _ = try? await self.writer.query("ROLLBACK")
                throw error
            }
        }
    }

    private func apply(_ requests: [WriteRequest], nowMs: Int64) async throws -> [WriteOutcome] {
        let fresh = try await self.recordNonces(requests.compactMap(\.nonce))
        let admitted = LedgerBatchPlanner.admitted(requests, freshNonces: fresh)
        var outcomes = [WriteOutcome?](repeating: nil, count: requests.count)
        var movements: [(index: Int, movement: LedgerBatchPlanner.Movement)] = []
        for (index, request) in requests.enumerated() {
            guard admitted[index] else {
                outcomes[index] = .rejected(.replayedNonce)
                continue
            }
            switch request.operation {
            case .recordNonce:
                outcomes[index] = .nonceRecorded
            case .createUser(let username, let passwordHash):
                outcomes[index] = try await self.createUser(username, passwordHash: passwordHash, nowMs: nowMs)
            case .changePassword(let userID, let passwordHash):
                let names = try await self.writer.query("SELECT username FROM users WHERE id = ? AND kind = 0", [.integer(Int(userID))])
                guard let name = try names.first?.text("username") else {
                    outcomes[index] = .rejected(.unknownUser)
                    continue
                }
                let mac = self.seal.userMAC(userID: userID, username: name, passwordHash: passwordHash)
                _ = try await self.writer.query(
                    "UPDATE users SET password_hash = ?, mac = ? WHERE id = ?",
                    [.text(passwordHash), .blob(ByteBuffer(bytes: mac)), .integer(Int(userID))])
                outcomes[index] = .passwordChanged
            case .transfer(let intent):
                movements.append((index, .transfer(intent)))
            case .deposit(let intent):
                movements.append((index, .deposit(intent)))
            }
        }
        if !movements.isEmpty {
            let plan = try await self.applyMovements(movements.map(\.movement), nowMs: nowMs)
            for (item, outcome) in zip(movements, plan.outcomes) {
                outcomes[item.index] = outcome
            }
        }
        return outcomes.map { $0! }
    }

    /// Inserts the nonces; returns those that were not there before.
    private func recordNonces(_ nonces: [NonceRecord]) async throws -> Set<[UInt8]> {
        var fresh = Set<[UInt8]>()
        for chunk in nonces.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "(?, ?)", count: chunk.count).joined(separator: ", ")
            var binds: [SQLiteData] = []
            for nonce in chunk {
                binds.append(.blob(ByteBuffer(bytes: nonce.bytes)))
                binds.append(.integer(Int(nonce.expiresAtMs)))
            }
            let rows = try await self.writer.query(
                "INSERT INTO nonces (nonce, expires_at_ms) VALUES \(placeholders) ON CONFLICT DO NOTHING RETURNING nonce", binds)
            for row in rows {
                if let blob = row.column("nonce")?.blob { fresh.insert(Array(blob.readableBytesView)) }
            }
        }
        return fresh
    }

    private func createUser(_ username: Username, passwordHash: String, nowMs: Int64) async throws -> WriteOutcome {
        let rows = try await self.writer.query(
            "INSERT INTO users (username, password_hash, kind, created_at_ms) VALUES (?, ?, 0, ?) ON CONFLICT (username) DO NOTHING RETURNING id",
            [.text(username.canonical), .text(passwordHash), .integer(Int(nowMs))])
        guard let id = rows.first?.column("id")?.integer else { return .rejected(.usernameTaken) }
        let userMAC = self.seal.userMAC(userID: Int64(id), username: username.canonical, passwordHash: passwordHash)
        _ = try await self.writer.query("UPDATE users SET mac = ? WHERE id = ?", [.blob(ByteBuffer(bytes: userMAC)), .integer(id)])
        let accountMAC = self.seal.accountMAC(userID: Int64(id), balanceCents: 0)
        _ = try await self.writer.query("INSERT INTO accounts (user_id, balance_cents, mac) VALUES (?, 0, ?)", [.integer(id), .blob(ByteBuffer(bytes: accountMAC))])
        return .userCreated(UserRecord(id: Int64(id), username: username, passwordHash: passwordHash))
    }

    private func applyMovements(_ movements: [LedgerBatchPlanner.Movement], nowMs: Int64) async throws -> LedgerBatchPlanner.Plan {
        let reads = LedgerBatchPlanner.reads(for: movements)
        var accounts: [Username: LedgerBatchPlanner.Account] = [:]
        for chunk in reads.usernames.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            let rows = try await self.writer.query(
                "SELECT u.id, u.username, u.kind, a.balance_cents FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.username IN (\(placeholders))",
                chunk.map { .text($0.canonical) })
            for row in rows {
                let username = Username(trustedCanonical: try row.text("username"))
                accounts[username] = .init(
                    userID: try row.int64("id"), username: username,
                    balanceCents: try row.int64("balance_cents"), isCustomer: try row.int64("kind") == 0)
            }
        }
        var existing: [LedgerBatchPlanner.TransferKey: LedgerEntry] = [:]
        var chainHashes: [Int64: [UInt8]] = [:]
        for chunk in reads.transferKeys.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "(?, ?)", count: chunk.count).joined(separator: ", ")
            var binds: [SQLiteData] = []
            for key in chunk {
                binds.append(.integer(Int(key.senderID)))
                binds.append(.text(key.transferID.value))
            }
            let rows = try await self.writer.query(Self.sealedEntrySelect + Self.idempotencyKeyFilter(placeholders), binds)
            for row in rows {
                let entry = try Self.entry(from: row)
                existing[.init(senderID: entry.fromUserID, transferID: entry.transferID)] = entry
                chainHashes[entry.position] = row.bytes("chain_hash")
            }
        }
        let head = try await self.writer.query("SELECT position, chain_hash FROM entries ORDER BY position DESC LIMIT 1")
        let nextPosition = try (head.first?.int64("position") ?? 0) + 1
        let headHash = head.first?.column("chain_hash")?.blob.map { Array($0.readableBytesView) } ?? LedgerSeal.genesisHash
        guard headHash.count == 32 else { throw StoreRowError(column: "chain_hash") }

        let plan = LedgerBatchPlanner.plan(
            movements, snapshot: .init(accountsByName: accounts, existingEntries: existing, nextPosition: nextPosition, headHash: headHash, chainHashes: chainHashes), nowMs: nowMs)
        try await self.write(plan)
        return plan
    }

    /// Selects the entries with the given (sender, transfer id) keys through the unique index:
    /// each key is one index search. (A row-value `IN (VALUES ...)` on the entries themselves made
    /// SQLite scan the whole table, so every group commit cost time in the ledger's length.)
    private static func idempotencyKeyFilter(_ placeholders: String) -> String {
        " WHERE e.position IN (SELECT k.position FROM (VALUES \(placeholders)) AS wanted JOIN entries k ON k.from_user = wanted.column1 AND k.transfer_id = wanted.column2)"
    }

    private func write(_ plan: LedgerBatchPlanner.Plan) async throws {
        let sealed = Array(zip(plan.newEntries, plan.chainHashes))
        for chunk in sealed.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
            var binds: [SQLiteData] = []
            binds.reserveCapacity(chunk.count * 11)
            for (entry, chainHash) in chunk {
                binds.append(contentsOf: [
                    .integer(Int(entry.position)), .integer(Int(entry.kind.rawValue)), .text(entry.transferID.value),
                    .integer(Int(entry.fromUserID)), .integer(Int(entry.toUserID)), .integer(Int(entry.amount.cents)),
                    .integer(Int(entry.fromBalanceAfterCents)), .integer(Int(entry.toBalanceAfterCents)),
                    .integer(Int(entry.createdAtMs)), .blob(ByteBuffer(bytes: chainHash)),
                    .blob(ByteBuffer(bytes: self.seal.entryMAC(position: entry.position, chainHash: chainHash))),
                ])
            }
            _ = try await self.writer.query(
                "INSERT INTO entries (position, kind, transfer_id, from_user, to_user, amount_cents, from_balance_after, to_balance_after, created_at_ms, chain_hash, mac) VALUES \(placeholders)",
                binds)
        }
        for chunk in plan.changedBalances.sorted(by: { $0.key < $1.key }).chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "(?, ?, ?)", count: chunk.count).joined(separator: ", ")
            var binds: [SQLiteData] = []
            for (userID, balance) in chunk {
                binds.append(.integer(Int(userID)))
                binds.append(.integer(Int(balance)))
                binds.append(.blob(ByteBuffer(bytes: self.seal.accountMAC(userID: userID, balanceCents: balance))))
            }
            _ = try await self.writer.query(
                "INSERT INTO accounts (user_id, balance_cents, mac) VALUES \(placeholders) ON CONFLICT (user_id) DO UPDATE SET balance_cents = excluded.balance_cents, mac = excluded.mac",
                binds)
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
        guard amountCents > 0 else { throw StoreRowError(column: "amount_cents") }
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
        try await self.run {
            let rows = try await self.reader.query(
                "SELECT id, username, password_hash, mac FROM users WHERE username = ? AND kind = 0", [.text(username.canonical)])
            guard let row = rows.first else { return nil }
            let id = try row.int64("id")
            let name = try row.text("username")
            let hash = try row.text("password_hash")
            let intact = self.seal.isValid(row.bytes("mac"), expected: self.seal.userMAC(userID: id, username: name, passwordHash: hash))
            return UserRecord(id: id, username: Username(trustedCanonical: name), passwordHash: hash, sealIntact: intact)
        }
    }

    public func balance(ofUserID userID: Int64) async throws(LedgerError) -> Int64? {
        try await self.run {
            let rows = try await self.reader.query("SELECT balance_cents FROM accounts WHERE user_id = ?", [.integer(Int(userID))])
            return try rows.first?.int64("balance_cents")
        }
    }

    public func history(ofUserID userID: Int64, beforePosition: Int64?, limit: Int) async throws(LedgerError) -> [LedgerEntry] {
        precondition(limit >= 1 && limit <= 1000)
        return try await self.run {
            let before = Int(beforePosition ?? Int64.max)
            let rows = try await self.reader.query(
                Self.entrySelect + """
                 WHERE e.position IN (
                    SELECT position FROM (SELECT position FROM entries WHERE from_user = ?1 AND position < ?2 ORDER BY position DESC LIMIT ?3)
                    UNION ALL
                    SELECT position FROM (SELECT position FROM entries WHERE to_user = ?1 AND position < ?2 ORDER BY position DESC LIMIT ?3))
                 ORDER BY e.position DESC LIMIT ?3
                """,
                [.integer(Int(userID)), .integer(before), .integer(limit)])
            return try rows.map(Self.entry(from:))
        }
    }

    public func pruneNonces(expiredBeforeMs: Int64) async throws(LedgerError) -> Int {
        try await self.run {
            let rows = try await self.reader.query(
                "DELETE FROM nonces WHERE expires_at_ms < ? RETURNING 1 AS gone", [.integer(Int(expiredBeforeMs))])
            return rows.count
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
            let rows = try await self.reader.query(
                "INSERT INTO deployment (id, fingerprint) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET id = id RETURNING fingerprint",
                [.blob(ByteBuffer(bytes: fingerprint))])
            return rows.first?.column("fingerprint")?.blob.map { Array($0.readableBytesView) } ?? []
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
            let rows = try await self.reader.query("SELECT id, username, password_hash, mac FROM users ORDER BY id")
            return try rows.map { row in
                SealedUser(id: try row.int64("id"), username: try row.text("username"), passwordHash: try row.text("password_hash"), mac: row.bytes("mac"))
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

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: self.count, by: size).map { self[$0..<Swift.min($0 + size, self.count)] }
    }
}
