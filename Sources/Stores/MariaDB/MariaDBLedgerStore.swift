#if MariaDB
import Glibc
public import IntegraLedger

/// The MariaDB store: InnoDB, utf8mb4, prepared statements, a pool of blocking libmariadb
/// connections on their own threads.
///
/// Correct on MariaDB's default REPEATABLE READ and with several Integra instances on one
/// database: every transaction that moves money first locks the single `ledger_head` row
/// (`SELECT … FOR UPDATE`), so money movements are serialised across connections and instances
/// and every later read in that transaction is a locking read of the latest committed rows.
/// Nonces are unique in the database, so a replay is refused whichever instance sees it.
/// Deadlocks and lock-wait timeouts are retried a bounded number of times.
public final class MariaDBLedgerStore: LedgerStore {
    private let pool: MariaDBConnectionPool
    private let seal: LedgerSeal
    private static let rowsPerStatement = 100
    private static let maximumAttempts = 5

    private init(pool: MariaDBConnectionPool, seal: LedgerSeal) {
        self.seal = seal
        self.pool = pool
    }

    /// Connects and brings the schema up to date (serialised across instances by a named lock).
    public static func open(_ configuration: MariaDBConfiguration, seal: LedgerSeal, poolSize: Int = 8) async throws(LedgerError) -> MariaDBLedgerStore {
        let store = MariaDBLedgerStore(pool: MariaDBConnectionPool(configuration: configuration, size: poolSize), seal: seal)
        do {
            try await store.run { connection in try Self.migrate(connection, seal: seal) }
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// The schema version the database is at.
    public func schemaVersion() async throws(LedgerError) -> Int64 {
        try await self.run { connection in
            try connection.query("SELECT COALESCE(MAX(version), 0) FROM schema_version").int64(0, 0)
        }
    }

    private static func migrate(_ connection: MariaDBConnection, seal: LedgerSeal) throws {
        // An up-to-date schema needs no DDL, so a user with only SELECT, INSERT, UPDATE and DELETE
        // can run the server once another user has migrated (README, "Running on MariaDB").
        if let latest = MariaDBSchema.migrations.last?.version, try Self.appliedVersion(connection) == latest { return }
        guard try connection.query("SELECT GET_LOCK('integra_migrations', 60)").int64(0, 0) == 1 else {
            throw MariaDBError(number: 0, message: "could not take the migration lock")
        }
        defer { _ = try? connection.query("SELECT RELEASE_LOCK('integra_migrations')") }
        try connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL PRIMARY KEY) \(MariaDBSchema.tableOptions)")
        try connection.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
        let current = try connection.query("SELECT COALESCE(MAX(version), 0) FROM schema_version").int64(0, 0)
        for migration in MariaDBSchema.migrations where migration.version > current {
            for statement in migration.statements {
                try connection.execute(statement)
            }
            if migration.version == 3 { try Self.sealExistingRows(connection, seal: seal) }
            try connection.query("INSERT INTO schema_version (version) VALUES (?)", [.int(migration.version)])
        }
    }

    /// The schema version applied, without touching the schema; nil on a database without Integra's tables.
    private static func appliedVersion(_ connection: MariaDBConnection) throws(MariaDBError) -> Int64? {
        let tables = try connection.query(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'schema_version'")
        guard try tables.int64(0, 0) == 1 else { return nil }
        return try connection.query("SELECT COALESCE(MAX(version), 0) FROM schema_version").int64(0, 0)
    }

    /// Seals rows written before the schema had seals: users, accounts, and the entries' chain.
    private static func sealExistingRows(_ connection: MariaDBConnection, seal: LedgerSeal) throws {
        let users = try connection.query("SELECT id, username, password_hash FROM users")
        for row in users.rows.indices {
            let id = try users.int64(row, 0)
            let mac = seal.userMAC(userID: id, username: try users.text(row, 1), passwordHash: try users.text(row, 2))
            try connection.query("UPDATE users SET mac = ? WHERE id = ?", [.bytes(mac), .int(id)])
        }
        let accounts = try connection.query("SELECT user_id, balance_cents FROM accounts")
        for row in accounts.rows.indices {
            let id = try accounts.int64(row, 0)
            try connection.query("UPDATE accounts SET mac = ? WHERE user_id = ?", [.bytes(seal.accountMAC(userID: id, balanceCents: try accounts.int64(row, 1))), .int(id)])
        }
        var previous = LedgerSeal.genesisHash
        let entries = try connection.query(Self.entrySelect + " ORDER BY e.position")
        for row in entries.rows.indices {
            let entry = try Self.entry(entries, row)
            previous = LedgerSeal.chainHash(previous: previous, entry: entry)
            try connection.query(
                "UPDATE entries SET chain_hash = ?, mac = ? WHERE position = ?",
                [.bytes(previous), .bytes(seal.entryMAC(position: entry.position, chainHash: previous)), .int(entry.position)])
        }
        try connection.query("UPDATE ledger_head SET chain_hash = ? WHERE id = 1", [.bytes(previous)])
    }

    public func close() async {
        await self.pool.shutdown()
    }

    // MARK: Writes

    public func commit(_ requests: [WriteRequest], nowMs: Int64) async throws(LedgerError) -> [WriteOutcome] {
        try await self.run { connection in
            var attempt = 1
            while true {
                do {
                    try connection.execute("START TRANSACTION")
                    let outcomes = try Self.apply(requests, nowMs: nowMs, seal: self.seal, connection: connection)
                    try connection.execute("COMMIT")
                    return outcomes
                } catch let error as MariaDBError where error.isTransient && attempt < Self.maximumAttempts {
                    try? connection.execute("ROLLBACK")
                    attempt += 1
                    let backoffMicroseconds = UInt32.random(in: 1_000...5_000) * UInt32(attempt)
                    usleep(backoffMicroseconds)
                } catch {
                    try? connection.execute("ROLLBACK")
                    throw error
                }
            }
        }
    }

    private static func apply(_ requests: [WriteRequest], nowMs: Int64, seal: LedgerSeal, connection: MariaDBConnection) throws -> [WriteOutcome] {
        let movesMoney = requests.contains { $0.operation.movesMoney }
        // Lock the ledger head first: every money movement, on any instance, queues here.
        var head: (nextPosition: Int64, hash: [UInt8]) = (0, LedgerSeal.genesisHash)
        if movesMoney {
            let rows = try connection.query("SELECT position, chain_hash FROM ledger_head WHERE id = 1 FOR UPDATE")
            head = (try rows.int64(0, 0) + 1, rows.rows.first?[1] ?? LedgerSeal.genesisHash)
            guard head.hash.count == 32 else { throw MariaDBError(number: 0, message: "ledger head hash is damaged") }
        }
        let fresh = try Self.recordNonces(requests.compactMap(\.nonce), connection: connection)
        return try LedgerBatchPlanner.outcomes(
            of: requests, freshNonces: fresh,
            applyAccountChange: { operation in
                switch operation {
                case .createUser(let username, let passwordHash):
                    return try Self.createUser(username, passwordHash: passwordHash, nowMs: nowMs, seal: seal, connection: connection)
                case .changePassword(let userID, let passwordHash):
                    let names = try connection.query("SELECT username FROM users WHERE id = ? AND kind = 0", [.int(userID)])
                    guard !names.rows.isEmpty else { return .rejected(.unknownUser) }
                    let mac = seal.userMAC(userID: userID, username: try names.text(0, 0), passwordHash: passwordHash)
                    try connection.query("UPDATE users SET password_hash = ?, mac = ? WHERE id = ?", [.text(passwordHash), .bytes(mac), .int(userID)])
                    return .passwordChanged
                case .recordNonce, .transfer, .deposit:
                    preconditionFailure("not an account change")
                }
            },
            applyMovements: { movements in
                try Self.applyMovements(movements, head: head, nowMs: nowMs, seal: seal, connection: connection).outcomes
            })
    }

    /// Inserts the nonces; returns those not seen before. The fast path is one multi-row insert;
    /// only when it hits a duplicate does it fall back to one insert per nonce.
    private static func recordNonces(_ nonces: [NonceRecord], connection: MariaDBConnection) throws(MariaDBError) -> Set<[UInt8]> {
        var fresh = Set<[UInt8]>()
        for chunk in nonces.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "(?, ?)", count: chunk.count).joined(separator: ", ")
            var parameters: [MariaDBValue] = []
            for nonce in chunk {
                parameters.append(.bytes(nonce.bytes))
                parameters.append(.int(nonce.expiresAtMs))
            }
            if try connection.insertUnlessDuplicate("INSERT INTO nonces (nonce, expires_at_ms) VALUES \(placeholders)", parameters) != nil {
                for nonce in chunk { fresh.insert(nonce.bytes) }
                continue
            }
            for nonce in chunk {
                let parameters: [MariaDBValue] = [.bytes(nonce.bytes), .int(nonce.expiresAtMs)]
                if try connection.insertUnlessDuplicate("INSERT INTO nonces (nonce, expires_at_ms) VALUES (?, ?)", parameters) != nil {
                    fresh.insert(nonce.bytes)
                }
            }
        }
        return fresh
    }

    private static func createUser(_ username: Username, passwordHash: String, nowMs: Int64, seal: LedgerSeal, connection: MariaDBConnection) throws(MariaDBError) -> WriteOutcome {
        let parameters: [MariaDBValue] = [.text(username.canonical), .text(passwordHash), .int(nowMs)]
        guard let inserted = try connection.insertUnlessDuplicate(
            "INSERT INTO users (username, password_hash, kind, created_at_ms) VALUES (?, ?, 0, ?)", parameters)
        else {
            return .rejected(.usernameTaken)
        }
        let id = Int64(inserted.insertID)
        try connection.query("UPDATE users SET mac = ? WHERE id = ?", [.bytes(seal.userMAC(userID: id, username: username.canonical, passwordHash: passwordHash)), .int(id)])
        try connection.query("INSERT INTO accounts (user_id, balance_cents, mac) VALUES (?, 0, ?)", [.int(id), .bytes(seal.accountMAC(userID: id, balanceCents: 0))])
        return .userCreated(UserRecord(id: id, username: username, passwordHash: passwordHash))
    }

    private static func applyMovements(_ movements: [LedgerBatchPlanner.Movement], head: (nextPosition: Int64, hash: [UInt8]), nowMs: Int64, seal: LedgerSeal, connection: MariaDBConnection) throws -> LedgerBatchPlanner.Plan {
        let reads = LedgerBatchPlanner.reads(for: movements)
        var accounts: [Username: LedgerBatchPlanner.Account] = [:]
        for chunk in reads.usernames.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            let rows = try connection.query(
                "SELECT u.id, u.username, u.kind, a.balance_cents FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.username IN (\(placeholders)) ORDER BY u.id FOR UPDATE",
                chunk.map { .text($0.canonical) })
            for row in rows.rows.indices {
                let username = Username(trustedCanonical: try rows.text(row, 1))
                accounts[username] = .init(
                    userID: try rows.int64(row, 0), username: username,
                    balanceCents: try rows.int64(row, 3), isCustomer: try rows.int64(row, 2) == 0)
            }
        }
        var existing: [LedgerBatchPlanner.TransferKey: LedgerEntry] = [:]
        var chainHashes: [Int64: [UInt8]] = [:]
        for chunk in reads.transferKeys.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "(?, ?)", count: chunk.count).joined(separator: ", ")
            var parameters: [MariaDBValue] = []
            for key in chunk {
                parameters.append(.int(key.senderID))
                parameters.append(.text(key.transferID.value))
            }
            let rows = try connection.query(Self.idempotencySelect + " WHERE (e.from_user, e.transfer_id) IN (\(placeholders))", parameters)
            for row in rows.rows.indices {
                let entry = try Self.entry(rows, row)
                existing[.init(senderID: entry.fromUserID, transferID: entry.transferID)] = entry
                chainHashes[entry.position] = rows.rows[row][11]
            }
        }
        let plan = LedgerBatchPlanner.plan(
            movements, snapshot: .init(accountsByName: accounts, existingEntries: existing, nextPosition: head.nextPosition, headHash: head.hash, chainHashes: chainHashes), nowMs: nowMs)
        try Self.write(plan, seal: seal, connection: connection)
        return plan
    }

    /// The sealed-entry select for looking entries up by (sender, transfer id) in a group commit.
    /// STRAIGHT_JOIN makes MariaDB start from `entries` and use a range on the unique
    /// `entries_idempotency` key; left to itself it started from the senders and read every entry
    /// of each sender, so every group commit cost time in the ledger's length.
    private static let idempotencySelect = sealedEntrySelect.replacingOccurrences(of: "SELECT e.position", with: "SELECT STRAIGHT_JOIN e.position")

    private static func write(_ plan: LedgerBatchPlanner.Plan, seal: LedgerSeal, connection: MariaDBConnection) throws {
        let sealed = Array(zip(plan.newEntries, plan.chainHashes))
        for chunk in sealed.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
            var parameters: [MariaDBValue] = []
            parameters.reserveCapacity(chunk.count * 11)
            for (entry, chainHash) in chunk {
                let row: [MariaDBValue] = [
                    MariaDBValue.int(entry.position), MariaDBValue.int(entry.kind.rawValue), MariaDBValue.text(entry.transferID.value),
                    MariaDBValue.int(entry.fromUserID), MariaDBValue.int(entry.toUserID), MariaDBValue.int(entry.amount.cents),
                    MariaDBValue.int(entry.fromBalanceAfterCents), MariaDBValue.int(entry.toBalanceAfterCents), MariaDBValue.int(entry.createdAtMs),
                ]
                parameters.append(contentsOf: row)
                parameters.append(MariaDBValue.bytes(chainHash))
                parameters.append(MariaDBValue.bytes(seal.entryMAC(position: entry.position, chainHash: chainHash)))
            }
            try connection.query(
                "INSERT INTO entries (position, kind, transfer_id, from_user, to_user, amount_cents, from_balance_after, to_balance_after, created_at_ms, chain_hash, mac) VALUES \(placeholders)",
                parameters)
        }
        for chunk in plan.changedBalances.sorted(by: { $0.key < $1.key }).chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "(?, ?, ?)", count: chunk.count).joined(separator: ", ")
            var parameters: [MariaDBValue] = []
            for (userID, balance) in chunk {
                parameters.append(.int(userID))
                parameters.append(.int(balance))
                parameters.append(.bytes(seal.accountMAC(userID: userID, balanceCents: balance)))
            }
            try connection.query(
                "INSERT INTO accounts (user_id, balance_cents, mac) VALUES \(placeholders) ON DUPLICATE KEY UPDATE balance_cents = VALUES(balance_cents), mac = VALUES(mac)",
                parameters)
        }
        if let last = plan.newEntries.last, let hash = plan.chainHashes.last {
            try connection.query("UPDATE ledger_head SET position = ?, chain_hash = ? WHERE id = 1", [.int(last.position), .bytes(hash)])
        }
    }

    // MARK: Reads

    /// Entries drive the join (STRAIGHT_JOIN): left to itself, the optimizer may start from the
    /// small users table and sort every later entry for each page read.
    private static let entrySelect = """
        SELECT e.position, e.kind, e.transfer_id, e.from_user, e.to_user, e.amount_cents,
               e.from_balance_after, e.to_balance_after, e.created_at_ms, fu.username, tu.username
        FROM entries e STRAIGHT_JOIN users fu ON fu.id = e.from_user STRAIGHT_JOIN users tu ON tu.id = e.to_user
        """

    private static let sealedEntrySelect = entrySelect.replacingOccurrences(of: "fu.username, tu.username", with: "fu.username, tu.username, e.chain_hash, e.mac")

    private static func entry(_ rows: MariaDBRows, _ row: Int) throws -> LedgerEntry {
        guard let kind = EntryKind(rawValue: try rows.int64(row, 1)) else { throw MariaDBError(number: 0, message: "unknown entry kind") }
        let amountCents = try rows.int64(row, 5)
        guard amountCents > 0 else { throw MariaDBError(number: 0, message: "entry amount is not positive") }
        return LedgerEntry(
            position: try rows.int64(row, 0), kind: kind, transferID: TransferID(trusted: try rows.text(row, 2)),
            fromUserID: try rows.int64(row, 3), from: Username(trustedCanonical: try rows.text(row, 9)),
            toUserID: try rows.int64(row, 4), to: Username(trustedCanonical: try rows.text(row, 10)),
            amount: Amount(cents: amountCents),
            fromBalanceAfterCents: try rows.int64(row, 6), toBalanceAfterCents: try rows.int64(row, 7),
            createdAtMs: try rows.int64(row, 8))
    }

    public func user(named username: Username) async throws(LedgerError) -> UserRecord? {
        try await self.run { connection in
            let rows = try connection.query("SELECT id, username, password_hash, mac FROM users WHERE username = ? AND kind = 0", [.text(username.canonical)])
            guard !rows.rows.isEmpty else { return nil }
            let id = try rows.int64(0, 0)
            let name = try rows.text(0, 1)
            let hash = try rows.text(0, 2)
            let intact = self.seal.isValid(rows.rows[0][3], expected: self.seal.userMAC(userID: id, username: name, passwordHash: hash))
            return UserRecord(id: id, username: Username(trustedCanonical: name), passwordHash: hash, sealIntact: intact)
        }
    }

    public func balance(ofUserID userID: Int64) async throws(LedgerError) -> Int64? {
        try await self.run { connection in
            let rows = try connection.query("SELECT balance_cents FROM accounts WHERE user_id = ?", [.int(userID)])
            return rows.rows.isEmpty ? nil : try rows.int64(0, 0)
        }
    }

    public func history(ofUserID userID: Int64, beforePosition: Int64?, limit: Int) async throws(LedgerError) -> [LedgerEntry] {
        precondition(limit >= 1 && limit <= 1000)
        return try await self.run { connection in
            let before = beforePosition ?? Int64.max
            let rows = try connection.query(
                Self.entrySelect + """
                 WHERE e.position IN (
                    SELECT position FROM (
                        (SELECT position FROM entries WHERE from_user = ? AND position < ? ORDER BY position DESC LIMIT ?)
                        UNION ALL
                        (SELECT position FROM entries WHERE to_user = ? AND position < ? ORDER BY position DESC LIMIT ?)
                    ) AS recent)
                 ORDER BY e.position DESC LIMIT ?
                """,
                Self.historyParameters(userID: userID, before: before, limit: Int64(limit)))
            return try rows.rows.indices.map { try Self.entry(rows, $0) }
        }
    }

    private static func historyParameters(userID: Int64, before: Int64, limit: Int64) -> [MariaDBValue] {
        let perSide: [MariaDBValue] = [MariaDBValue.int(userID), MariaDBValue.int(before), MariaDBValue.int(limit)]
        return perSide + perSide + [MariaDBValue.int(limit)]
    }

    public func pruneNonces(expiredBeforeMs: Int64) async throws(LedgerError) -> Int {
        try await self.run { connection in
            var total = 0
            // Small batches keep each delete's locks short beside live traffic.
            while true {
                let deleted = Int(try connection.query("DELETE FROM nonces WHERE expires_at_ms < ? LIMIT 10000", [.int(expiredBeforeMs)]).affectedRows)
                total += deleted
                if deleted < 10_000 { return total }
            }
        }
    }

    public func summary() async throws(LedgerError) -> LedgerSummary {
        try await self.run { connection in
            let rows = try connection.query("""
                SELECT
                  (SELECT COALESCE(SUM(balance_cents), 0) FROM accounts WHERE user_id <> 0),
                  (SELECT COALESCE(SUM(amount_cents), 0) FROM entries WHERE kind = 2),
                  (SELECT balance_cents FROM accounts WHERE user_id = 0),
                  (SELECT COUNT(*) FROM users WHERE kind = 0),
                  (SELECT COUNT(*) FROM entries)
                """)
            return LedgerSummary(
                customerBalanceCents: try rows.int64(0, 0), depositedCents: try rows.int64(0, 1),
                systemBalanceCents: try rows.int64(0, 2), customers: try rows.int64(0, 3), entries: try rows.int64(0, 4))
        }
    }

    public func sealedEntries(afterPosition: Int64, limit: Int) async throws(LedgerError) -> [SealedEntry] {
        try await self.run { connection in
            let rows = try connection.query(
                Self.sealedEntrySelect + " WHERE e.position > ? ORDER BY e.position LIMIT ?",
                [.int(afterPosition), .int(Int64(limit))])
            return try rows.rows.indices.map { row in
                SealedEntry(entry: try Self.entry(rows, row), chainHash: rows.rows[row][11], mac: rows.rows[row][12])
            }
        }
    }

    /// Streams rows straight into pages (see `MariaDBSealedEntryReader`).
    public func makeSealedEntryReader() async throws(LedgerError) -> any SealedEntryReader {
        MariaDBSealedEntryReader(store: self)
    }

    public func head() async throws(LedgerError) -> (position: Int64, chainHash: [UInt8]) {
        try await self.run { connection in
            let rows = try connection.query("SELECT position, chain_hash FROM ledger_head WHERE id = 1")
            let position = try rows.int64(0, 0)
            return (position, position == 0 ? LedgerSeal.genesisHash : rows.rows[0][1] ?? [])
        }
    }

    public func recordCheckpoint(_ checkpoint: LedgerCheckpoint) async throws(LedgerError) {
        try await self.run { connection in
            let parameters: [MariaDBValue] = [.int(checkpoint.position), .bytes(checkpoint.chainHash), .int(checkpoint.createdAtMs), .bytes(checkpoint.signature)]
            try connection.query("INSERT IGNORE INTO checkpoints (position, chain_hash, created_at_ms, signature) VALUES (?, ?, ?, ?)", parameters)
        }
    }

    public func checkpoints() async throws(LedgerError) -> [LedgerCheckpoint] {
        try await self.run { connection in
            let rows = try connection.query("SELECT position, chain_hash, created_at_ms, signature FROM checkpoints ORDER BY position")
            return try rows.rows.indices.map { row in
                LedgerCheckpoint(position: try rows.int64(row, 0), chainHash: rows.rows[row][1] ?? [], createdAtMs: try rows.int64(row, 2), signature: rows.rows[row][3] ?? [])
            }
        }
    }

    public func sealedAccounts() async throws(LedgerError) -> [SealedAccount] {
        try await self.run { connection in
            let rows = try connection.query("SELECT a.user_id, u.username, a.balance_cents, a.mac FROM accounts a JOIN users u ON u.id = a.user_id ORDER BY a.user_id")
            return try rows.rows.indices.map { row in
                SealedAccount(userID: try rows.int64(row, 0), username: try rows.text(row, 1), balanceCents: try rows.int64(row, 2), mac: rows.rows[row][3])
            }
        }
    }

    public func sealedUsers() async throws(LedgerError) -> [SealedUser] {
        try await self.run { connection in
            let rows = try connection.query("SELECT id, username, password_hash, mac FROM users ORDER BY id")
            return try rows.rows.indices.map { row in
                SealedUser(id: try rows.int64(row, 0), username: try rows.text(row, 1), passwordHash: try rows.text(row, 2), mac: rows.rows[row][3])
            }
        }
    }

    public func bindDeployment(fingerprint: [UInt8]) async throws(LedgerError) {
        let stored: [UInt8] = try await self.run { connection in
            try connection.query("INSERT IGNORE INTO deployment (id, fingerprint) VALUES (1, ?)", [.bytes(fingerprint)])
            let rows = try connection.query("SELECT fingerprint FROM deployment WHERE id = 1")
            return rows.rows.first?[0] ?? []
        }
        guard stored == fingerprint else { throw .deploymentMismatch }
    }

    /// Runs blocking work on a pooled connection; every failure becomes the store's expected error.
    func run<T: Sendable>(_ body: @escaping @Sendable (MariaDBConnection) throws -> T) async throws(LedgerError) -> T {
        do {
            return try await self.pool.withConnection(body)
        } catch let error as LedgerError {
            throw error
        } catch is MariaDBConnectionPool.Exhausted {
            throw .storeUnavailable("all database connections are busy")
        } catch {
            throw .storeUnavailable("\(error)")
        }
    }
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: self.count, by: size).map { self[$0..<Swift.min($0 + size, self.count)] }
    }
}
#endif
