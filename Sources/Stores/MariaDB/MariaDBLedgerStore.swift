#if MariaDB
import Foundation
import Glibc
public import IntegraLedger
public import IntegraTransparency
public import IntegraVerifier
public import Logging

/// The MariaDB store: InnoDB, utf8mb4, prepared statements, a pool of blocking libmariadb
/// connections on their own threads.
///
/// Correct on MariaDB's default REPEATABLE READ and with several Integra instances on one
/// database: every transaction that moves money first locks the single `ledger_head` row
/// (`SELECT … FOR UPDATE`), so money movements are serialised across connections and instances
/// and every later read in that transaction is a locking read of the latest committed rows.
/// Nonces are unique in the database, so a replay is refused whichever instance sees it.
/// Deadlocks and lock-wait timeouts are retried a bounded number of times.
public final class MariaDBLedgerStore: LedgerStore, SealedEntryPageSource, TreeNodeRewriting {
    private let pool: MariaDBConnectionPool
    private let seal: LedgerSeal
    /// Signs the tree head of every group that appends entries; nil when read-only.
    private let signer: TreeHeadSigner?
    /// Rows and head this instance verified or wrote (another instance's writes are checked).
    private let verified = VerifiedRowCache()
    private let readOnly: Bool
    private static let rowsPerStatement = MariaDBEvidence.rowsPerStatement
    private static let maximumAttempts = 5

    private init(pool: MariaDBConnectionPool, seal: LedgerSeal, signer: TreeHeadSigner?, readOnly: Bool) {
        self.seal = seal
        self.signer = signer
        self.pool = pool
        self.readOnly = readOnly
    }

    /// Connects and brings the schema up to date (serialised across instances by a named lock);
    /// `readOnly` instead requires the latest schema and never writes.
    /// A writable store signs a tree head per group with `signer` (required to write) and, on
    /// opening, builds the tree over entries written before the tree existed.
    public static func open(
        _ configuration: MariaDBConfiguration, seal: LedgerSeal, signer: TreeHeadSigner? = nil, poolSize: Int = 8, readOnly: Bool = false,
        logger: Logger = Logger(label: "integra.mariadb")
    ) async throws(LedgerError) -> MariaDBLedgerStore {
        precondition(readOnly || signer != nil, "a writable store needs the tree head signer")
        let store = MariaDBLedgerStore(pool: MariaDBConnectionPool(configuration: configuration, size: poolSize), seal: seal, signer: signer, readOnly: readOnly)
        do throws(LedgerError) {
            if readOnly {
                let version = try await store.run { connection in try Self.appliedVersion(connection) ?? 0 }
                let latest = MariaDBSchema.migrations.last!.version
                guard version == latest else {
                    throw .storeUnavailable("the database is at schema version \(version), not \(latest): run `integra-server migrate` first")
                }
            } else {
                try await store.runMigration { connection in try Self.migrate(connection, seal: seal) }
                if let signer { try await store.buildTree(signer: signer, logger: logger) }
            }
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
        // One lock per database: instances sharing it take turns, other databases don't wait.
        guard try connection.query("SELECT GET_LOCK(CONCAT('integra_migrations:', DATABASE()), ?)", [.int(Int64(Self.migrationTimeoutSeconds))]).int64(0, 0) == 1 else {
            throw MariaDBError(number: 0, message: "could not take the migration lock")
        }
        defer { _ = try? connection.query("SELECT RELEASE_LOCK(CONCAT('integra_migrations:', DATABASE()))") }
        try connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL PRIMARY KEY) \(MariaDBSchema.tableOptions)")
        try connection.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
        let current = try connection.query("SELECT COALESCE(MAX(version), 0) FROM schema_version").int64(0, 0)
        for migration in MariaDBSchema.migrations where migration.version > current {
            for statement in migration.statements {
                try connection.execute(statement)
            }
            if migration.version == 3 { try Self.sealExistingRows(connection, seal: seal) }
            if migration.version == 6 { try Self.resealUsers(connection, seal: seal) }
            if migration.version == 7 { try Self.fillNameKeys(connection) }
            try connection.query("INSERT INTO schema_version (version) VALUES (?)", [.int(migration.version)])
        }
    }

    /// Seals user rows with a credential version (0): only rows whose earlier seal is right, so a
    /// row changed outside Integra before the upgrade stays detectable. Running it again after an
    /// interruption changes nothing already re-sealed (their earlier seal no longer matches).
    private static func resealUsers(_ connection: MariaDBConnection, seal: LedgerSeal) throws {
        let users = try connection.query("SELECT id, username, password_hash, mac FROM users")
        for row in users.rows.indices {
            let id = try users.int64(row, 0)
            let name = try users.text(row, 1)
            let hash = try users.text(row, 2)
            guard seal.isValid(users.rows[row][3], expected: seal.legacyUserMAC(userID: id, username: name, passwordHash: hash)) else { continue }
            let mac = seal.userMAC(userID: id, username: name, passwordHash: hash, credentialVersion: 0)
            try connection.query("UPDATE users SET mac = ? WHERE id = ?", [.bytes(mac), .int(id)])
        }
    }

    /// Gives every user row the form names are looked up by and its skeleton, then makes both
    /// unique (see the SQLite store). Running it again after an interruption gives the same keys.
    private static func fillNameKeys(_ connection: MariaDBConnection) throws {
        let users = try connection.query("SELECT id, username FROM users ORDER BY id")
        var lookups = Set<String>()
        var skeletons = Set<String>()
        for row in users.rows.indices {
            let id = try users.int64(row, 0)
            let keys = Username.keys(forStoredName: try users.text(row, 1))
            let unique = !lookups.contains(keys.lookupForm) && !skeletons.contains(keys.skeleton)
            if unique {
                lookups.insert(keys.lookupForm)
                skeletons.insert(keys.skeleton)
            }
            try connection.query(
                "UPDATE users SET lookup_name = ?, skeleton = ? WHERE id = ?",
                unique ? [.text(keys.lookupForm), .text(keys.skeleton), .int(id)] : [.null, .null, .int(id)])
        }
        try connection.execute("ALTER TABLE users ADD UNIQUE INDEX IF NOT EXISTS users_lookup (lookup_name), ADD UNIQUE INDEX IF NOT EXISTS users_skeleton (skeleton)")
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
            let mac = seal.legacyUserMAC(userID: id, username: try users.text(row, 1), passwordHash: try users.text(row, 2))
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
        guard !self.readOnly else { throw .storeUnavailable("the store is open read-only") }
        return try await self.run { connection in
            var attempt = 1
            while true {
                do {
                    let known = self.verified.knownPositions()
                    try connection.execute("START TRANSACTION")
                    guard let signer = self.signer else { throw LedgerError.storeUnavailable("the store is open read-only") }
                    var transaction = MariaDBTransaction(seal: self.seal, signer: signer, verified: self.verified, known: known, connection: connection)
                    let outcomes = try transaction.apply(requests, nowMs: nowMs)
                    try connection.execute("COMMIT")
                    transaction.staged.publish(to: self.verified)
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
        try MariaDBEvidence.ledgerEntry(rows, row)
    }

    public func user(named username: Username) async throws(LedgerError) -> UserRecord? {
        try await self.run { connection in
            // The row and the latest credential entry in one statement: one snapshot, so a
            // password change committed in between can't look like a restored row.
            let rows = try connection.query(
                """
                SELECT id, username, password_hash, credential_version, mac,
                       (SELECT transfer_id FROM entries
                        WHERE from_user = users.id AND transfer_id >= 'credential#' AND transfer_id < 'credential$' AND kind = 3
                        ORDER BY transfer_id DESC LIMIT 1),
                       lookup_name, skeleton, kind
                FROM users WHERE lookup_name = ?
                """,
                [.text(username.canonical)])
            guard !rows.rows.isEmpty else { return nil }
            let keys = UserKeys(lookupName: try rows.optionalText(0, 6), skeleton: try rows.optionalText(0, 7), kind: try rows.int64(0, 8))
            let user = SealedUser(
                id: try rows.int64(0, 0), username: try rows.text(0, 1), passwordHash: try rows.text(0, 2),
                credentialVersion: try rows.int64(0, 3), mac: rows.rows[0][4], keys: keys)
            let latest = rows.rows[0][5].flatMap { CredentialEntry.version(transferID: $0) } ?? 0
            return UserRecord.found(user, by: username, latestCredentialVersion: latest, seal: self.seal)
        }
    }

    public func account(ofUserID userID: Int64) async throws(LedgerError) -> AccountEvidence? {
        // Captured before the snapshot: positions committed after it may not be in it.
        let known = self.verified.knownPositions()
        return try await self.runInSnapshot { connection in
            let rows = try connection.query(
                "SELECT a.balance_cents, a.mac, u.username, u.credential_version FROM accounts a JOIN users u ON u.id = a.user_id WHERE a.user_id = ?", [.int(userID)])
            guard !rows.rows.isEmpty else { return nil }
            let row = MariaDBEvidence.AccountRow(
                userID: userID, username: try rows.text(0, 2), credentialVersion: try rows.int64(0, 3), balanceCents: try rows.int64(0, 0), mac: rows.rows[0][1])
            return try MariaDBEvidence.accounts([row], connection: connection, known: known).first
        }
    }

    public func sealedHistory(ofUserID userID: Int64, beforePosition: Int64?, limit: Int) async throws(LedgerError) -> [EntryEvidence] {
        precondition(limit >= 1 && limit <= 1000)
        return try await self.runInSnapshot { connection in
            let before = beforePosition ?? Int64.max
            let rows = try connection.query(
                """
                SELECT position FROM (
                    (SELECT position FROM entries WHERE from_user = ? AND position < ? AND kind <> 3 ORDER BY position DESC LIMIT ?)
                    UNION ALL
                    (SELECT position FROM entries WHERE to_user = ? AND position < ? AND kind <> 3 ORDER BY position DESC LIMIT ?)
                ) AS recent ORDER BY position DESC LIMIT ?
                """,
                Self.historyParameters(userID: userID, before: before, limit: Int64(limit)))
            let positions = try rows.rows.indices.map { try rows.int64($0, 0) }
            let evidence = try MariaDBEvidence.entries(at: positions, connection: connection)
            return positions.compactMap { evidence[$0] }
        }
    }

    private static func historyParameters(userID: Int64, before: Int64, limit: Int64) -> [MariaDBValue] {
        let perSide: [MariaDBValue] = [MariaDBValue.int(userID), MariaDBValue.int(before), MariaDBValue.int(limit)]
        return perSide + perSide + [MariaDBValue.int(limit)]
    }

    public func entry(at position: Int64) async throws(LedgerError) -> EntryEvidence? {
        try await self.runInSnapshot { connection in try MariaDBEvidence.entries(at: [position], connection: connection)[position] }
    }

    public func recordAlarm(_ alarm: AlarmRecord) async throws(LedgerError) {
        let mac = self.seal.alarmMAC(alarm)
        _ = try await self.run { connection in
            try connection.query(
                """
                INSERT INTO alarms (id, kind, detail, raised_at_ms, acknowledged_at_ms, acknowledgement, mac) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE acknowledged_at_ms = VALUES(acknowledged_at_ms), acknowledgement = VALUES(acknowledgement), mac = VALUES(mac)
                """,
                [.text(alarm.id), .text(alarm.kind), .text(alarm.detail), .int(alarm.raisedAtMs),
                 alarm.acknowledgedAtMs.map { .int($0) } ?? .null, alarm.acknowledgement.map { .text($0) } ?? .null, .bytes(mac)])
        }
    }

    public func alarms(limit: Int) async throws(LedgerError) -> [SealedAlarm] {
        try await self.run { connection in
            let rows = try connection.query(
                "SELECT id, kind, detail, raised_at_ms, acknowledged_at_ms, acknowledgement, mac FROM alarms ORDER BY raised_at_ms, id LIMIT ?", [.int(Int64(limit))])
            return try rows.rows.indices.map { row in
                SealedAlarm(
                    alarm: AlarmRecord(
                        id: try rows.text(row, 0), kind: try rows.text(row, 1), detail: try rows.text(row, 2), raisedAtMs: try rows.int64(row, 3),
                        acknowledgedAtMs: rows.rows[row][4] == nil ? nil : try rows.int64(row, 4),
                        acknowledgement: rows.rows[row][5] == nil ? nil : try rows.text(row, 5)),
                    mac: rows.rows[row][6])
            }
        }
    }

    public func forgetVerifiedRows() async {
        self.verified.forgetAll()
    }

    public func rememberVerified(latestPositions: [(userID: Int64, position: Int64)], firstMissingPosition: Int64?) async {
        self.verified.remember(latestPositions: latestPositions)
        if let firstMissingPosition { self.verified.remember(firstMissingPosition: firstMissingPosition) }
    }

    public func pruneNonces(olderThanMs: Int64) async throws(LedgerError) -> Int {
        try await self.run { connection in
            var total = 0
            // Small batches keep each delete's locks short beside live traffic. Records from
            // before schema version 7 expired at their timestamp plus the window of their day.
            for statement in ["DELETE FROM request_nonces WHERE timestamp_ms < ? LIMIT 10000", "DELETE FROM nonces WHERE expires_at_ms < ? LIMIT 10000"] {
                while true {
                    let deleted = Int(try connection.query(statement, [.int(olderThanMs)]).affectedRows)
                    total += deleted
                    if deleted < 10_000 { break }
                }
            }
            return total
        }
    }

    public func setting(_ setting: Setting) async throws(LedgerError) -> Int64? {
        try await self.run { connection in
            let rows = try connection.query("SELECT value FROM settings WHERE name = ?", [.text(setting.rawValue)])
            return rows.rows.isEmpty ? nil : try rows.int64(0, 0)
        }
    }

    public func record(_ setting: Setting, _ value: Int64, onlyRaise: Bool) async throws(LedgerError) -> Int64 {
        guard !self.readOnly else { throw .storeUnavailable("the store is open read-only") }
        return try await self.run { connection in
            let update = onlyRaise ? "GREATEST(value, VALUES(value))" : "VALUES(value)"
            try connection.query(
                "INSERT INTO settings (name, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE value = \(update)", [.text(setting.rawValue), .int(value)])
            return try connection.query("SELECT value FROM settings WHERE name = ?", [.text(setting.rawValue)]).int64(0, 0)
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
    public func makePageReader() async throws(LedgerError) -> any SealedEntryReader {
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
            let rows = try connection.query("SELECT id, username, password_hash, credential_version, mac, lookup_name, skeleton, kind FROM users ORDER BY id")
            return try rows.rows.indices.map { row in
                SealedUser(
                    id: try rows.int64(row, 0), username: try rows.text(row, 1), passwordHash: try rows.text(row, 2),
                    credentialVersion: try rows.int64(row, 3), mac: rows.rows[row][4],
                    keys: UserKeys(lookupName: try rows.optionalText(row, 5), skeleton: try rows.optionalText(row, 6), kind: try rows.int64(row, 7)))
            }
        }
    }

    public func verifiedTree() async -> VerifiedTree? {
        self.verified.tree
    }

    public func latestTreeHead() async throws(LedgerError) -> SignedTreeHead? {
        try await self.run { connection in try MariaDBTreeRows.latestHead(connection) }
    }

    public func treeHeads(afterTreeSize: UInt64, limit: Int) async throws(LedgerError) -> [SignedTreeHead] {
        try await self.run { connection in try MariaDBTreeRows.heads(afterTreeSize: afterTreeSize, limit: limit, connection) }
    }

    public func treeNodes(_ ids: [MerkleNodeID]) async throws(LedgerError) -> [MerkleNodeID: [UInt8]] {
        precondition(ids.count <= MerkleTree.maximumProofNodeCount)
        return try await self.run { connection in try MariaDBTreeRows.nodes(ids, connection) }
    }

    /// Builds the tree over entries that have no leaf yet, one run per transaction (under the
    /// ledger head's lock, so instances starting together take turns), and signs its head.
    /// Logs its progress after each run, and where it stops if an entry fails its check.
    private func buildTree(signer: TreeHeadSigner, logger: Logger) async throws(LedgerError) {
        let seal = self.seal
        while true {
            let outcome: TreeBackfill.Outcome = try await self.run { connection in
                try connection.execute("START TRANSACTION")
                do {
                    let run = try TreeBackfill.run(
                        MariaDBTreeRows.backfillRows(connection), signer: signer, seal: seal, nowMs: Int64(Date().timeIntervalSince1970 * 1000))
                    try connection.execute("COMMIT")
                    return .built(run)
                } catch LedgerError.integrityAlarm(let violation) {
                    // An entry that fails its check gets no leaf (see the SQLite store).
                    try? connection.execute("ROLLBACK")
                    return .stopped(violation)
                } catch {
                    try? connection.execute("ROLLBACK")
                    throw error
                }
            }
            logger.log(outcome)
            if outcome.isDone { return }
        }
    }

    @discardableResult
    public func rewriteTreeNodes(progress: @escaping @Sendable (TreeBackfill.Run) -> Void) async throws(LedgerError) -> TreeBackfill.Rewrite {
        guard let signer = self.signer else { throw .storeUnavailable("the store is open read-only") }
        let seal = self.seal
        var rewrite = TreeBackfill.Rewrite()
        while true {
            let current = rewrite
            let (run, next) = try await self.run { connection in
                try connection.execute("START TRANSACTION")
                do {
                    var rewrite = current
                    let run = try rewrite.run(
                        MariaDBTreeRows.backfillRows(connection), seal: seal, signer: signer, nowMs: Int64(Date().timeIntervalSince1970 * 1000))
                    try connection.execute("COMMIT")
                    return (run, rewrite)
                } catch {
                    try? connection.execute("ROLLBACK")
                    throw error
                }
            }
            rewrite = next
            progress(run)
            if run.done { return rewrite }
        }
    }

    public func bindDeployment(fingerprint: [UInt8]) async throws(LedgerError) {
        let readOnly = self.readOnly
        let stored: [UInt8] = try await self.run { connection in
            // A read-only store is never bound here: it belongs to no deployment yet.
            if !readOnly { try connection.query("INSERT IGNORE INTO deployment (id, fingerprint) VALUES (1, ?)", [.bytes(fingerprint)]) }
            let rows = try connection.query("SELECT fingerprint FROM deployment WHERE id = 1")
            return rows.rows.first?[0] ?? []
        }
        guard stored == fingerprint else { throw .deploymentMismatch }
    }

    /// Runs reads in one read-only transaction (one consistent snapshot: a commit in between can't
    /// make a row and its entries disagree).
    func runInSnapshot<T: Sendable>(_ body: @escaping @Sendable (MariaDBConnection) throws -> T) async throws(LedgerError) -> T {
        try await self.run { connection in
            try connection.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            do {
                let result = try body(connection)
                try connection.execute("COMMIT")
                return result
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// How long one migration statement may take: DDL copies whole tables.
    static let migrationTimeoutSeconds: UInt32 = 3_600

    /// Runs a migration on a connection of its own with `migrationTimeoutSeconds`.
    private func runMigration(_ body: @escaping @Sendable (MariaDBConnection) throws -> Void) async throws(LedgerError) {
        do {
            try await self.pool.withDedicatedConnection(readWriteTimeoutSeconds: Self.migrationTimeoutSeconds, body)
        } catch let error as LedgerError {
            throw error
        } catch {
            throw .storeUnavailable("\(error)")
        }
    }

    /// Runs blocking work on a pooled connection; every failure becomes the store's expected error.
    func run<T: Sendable>(_ body: @escaping @Sendable (MariaDBConnection) throws -> T) async throws(LedgerError) -> T {
        do {
            return try await self.pool.withConnection(body)
        } catch {
            throw Self.ledgerError(error)
        }
    }

    /// The store's expected error for a failure of pooled work: a full queue of jobs waiting for
    /// a connection is the server being busy (`overloaded`, answered `server_busy`), not the
    /// database being unavailable.
    static func ledgerError(_ error: any Error) -> LedgerError {
        switch error {
        case let error as LedgerError: error
        case is MariaDBConnectionPool.Exhausted: .overloaded
        default: .storeUnavailable("\(error)")
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
