import IntegraLedger
import VaporCSQLite

/// The store's writer: one connection through the C API whose statements are prepared once, so
/// that a group commit (nonces, reads, the plan, entries, balances, COMMIT) runs as one call on
/// the writer's thread: one hand-off to that thread and back per group, not one per statement.
/// Sendable only in the sense that the store hands it to that one thread, one call at a time.
final class SQLiteWriteConnection: @unchecked Sendable {
    private let database: SQLiteDatabase
    private let seal: LedgerSeal
    private let begin: SQLiteStatement
    private let commit: SQLiteStatement
    private let rollback: SQLiteStatement
    private let insertNonce: SQLiteStatement
    private let insertUser: SQLiteStatement
    private let sealUser: SQLiteStatement
    private let insertAccount: SQLiteStatement
    private let selectCustomerName: SQLiteStatement
    private let updatePassword: SQLiteStatement
    private let selectAccount: SQLiteStatement
    private let selectEntryByKey: SQLiteStatement
    private let selectHead: SQLiteStatement
    private let insertEntry: SQLiteStatement
    private let updateAccount: SQLiteStatement

    init(path: String, seal: LedgerSeal, busyTimeoutMs: Int32) throws(LedgerError) {
        let database = try SQLiteDatabase(path: path, busyTimeoutMs: busyTimeoutMs)
        // The same settings as every connection of the store (see `SQLiteLedgerStore.open`).
        try database.execute("PRAGMA foreign_keys = ON")
        try database.execute("PRAGMA temp_store = MEMORY")
        try database.execute("PRAGMA synchronous = FULL")
        self.database = database
        self.seal = seal
        self.begin = try database.prepare("BEGIN IMMEDIATE")
        self.commit = try database.prepare("COMMIT")
        self.rollback = try database.prepare("ROLLBACK")
        self.insertNonce = try database.prepare("INSERT INTO nonces (expires_at_ms, nonce) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
        self.insertUser = try database.prepare(
            "INSERT INTO users (username, password_hash, kind, created_at_ms) VALUES (?1, ?2, 0, ?3) ON CONFLICT (username) DO NOTHING RETURNING id")
        self.sealUser = try database.prepare("UPDATE users SET mac = ?1 WHERE id = ?2")
        self.insertAccount = try database.prepare("INSERT INTO accounts (user_id, balance_cents, mac) VALUES (?1, 0, ?2)")
        self.selectCustomerName = try database.prepare("SELECT username FROM users WHERE id = ?1 AND kind = 0")
        self.updatePassword = try database.prepare("UPDATE users SET password_hash = ?1, mac = ?2 WHERE id = ?3")
        self.selectAccount = try database.prepare(
            "SELECT u.id, u.kind, a.balance_cents FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.username = ?1")
        self.selectEntryByKey = try database.prepare("""
            SELECT e.position, e.kind, e.transfer_id, e.from_user, e.to_user, e.amount_cents, e.from_balance_after,
                   e.to_balance_after, e.created_at_ms, fu.username, tu.username, e.chain_hash
            FROM entries e JOIN users fu ON fu.id = e.from_user JOIN users tu ON tu.id = e.to_user
            WHERE e.from_user = ?1 AND e.transfer_id = ?2
            """)
        self.selectHead = try database.prepare("SELECT position, chain_hash FROM entries ORDER BY position DESC LIMIT 1")
        self.insertEntry = try database.prepare("""
            INSERT INTO entries (position, kind, transfer_id, from_user, to_user, amount_cents, from_balance_after,
                                 to_balance_after, created_at_ms, chain_hash, mac)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
            """)
        self.updateAccount = try database.prepare("UPDATE accounts SET balance_cents = ?1, mac = ?2 WHERE user_id = ?3")
    }

    func setWALAutocheckpoint(pages: Int) throws(LedgerError) {
        try self.database.execute("PRAGMA wal_autocheckpoint = \(pages)")
    }

    /// Closes the connection; later commits fail as the store being unavailable.
    func close() {
        self.database.close()
    }

    /// Applies a group in one transaction; on any failure nothing of it is applied.
    func commit(_ requests: [WriteRequest], nowMs: Int64) throws(LedgerError) -> [WriteOutcome] {
        guard !self.database.isClosed else { throw .storeUnavailable("the store is closed") }
        try self.execute(self.begin)
        do {
            let outcomes = try self.apply(requests, nowMs: nowMs)
            try self.execute(self.commit)
            return outcomes
        } catch {
            // A failed COMMIT may already have rolled back; ROLLBACK then fails harmlessly.
            _ = try? self.execute(self.rollback)
            throw error
        }
    }

    private func apply(_ requests: [WriteRequest], nowMs: Int64) throws(LedgerError) -> [WriteOutcome] {
        var fresh = Set<[UInt8]>()
        for nonce in requests.lazy.compactMap(\.nonce) where try self.record(nonce) {
            fresh.insert(nonce.bytes)
        }
        return try LedgerBatchPlanner.outcomes(
            of: requests, freshNonces: fresh,
            applyAccountChange: { (operation) throws(LedgerError) -> WriteOutcome in
                switch operation {
                case .createUser(let username, let passwordHash):
                    return try self.createUser(username, passwordHash: passwordHash, nowMs: nowMs)
                case .changePassword(let userID, let passwordHash):
                    return try self.changePassword(userID: userID, passwordHash: passwordHash)
                case .recordNonce, .transfer, .deposit:
                    preconditionFailure("not an account change")
                }
            },
            applyMovements: { (movements) throws(LedgerError) in try self.applyMovements(movements, nowMs: nowMs).outcomes })
    }

    /// Records a nonce; true when it was not recorded before.
    private func record(_ nonce: NonceRecord) throws(LedgerError) -> Bool {
        defer { self.insertNonce.reset() }
        try self.insertNonce.bind(.integer(nonce.expiresAtMs), .blob(nonce.bytes))
        return try self.insertNonce.run() == 1
    }

    private func createUser(_ username: Username, passwordHash: String, nowMs: Int64) throws(LedgerError) -> WriteOutcome {
        let id: Int64
        do {
            defer { self.insertUser.reset() }
            try self.insertUser.bind(.text(username.canonical), .text(passwordHash), .integer(nowMs))
            guard try self.insertUser.step() else { return .rejected(.usernameTaken) }
            id = try self.insertUser.int64(0, "id")
            try self.insertUser.run()
        }
        try self.execute(self.sealUser, .blob(self.seal.userMAC(userID: id, username: username.canonical, passwordHash: passwordHash)), .integer(id))
        try self.execute(self.insertAccount, .integer(id), .blob(self.seal.accountMAC(userID: id, balanceCents: 0)))
        return .userCreated(UserRecord(id: id, username: username, passwordHash: passwordHash))
    }

    private func changePassword(userID: Int64, passwordHash: String) throws(LedgerError) -> WriteOutcome {
        let name: String
        do {
            defer { self.selectCustomerName.reset() }
            try self.selectCustomerName.bind(.integer(userID))
            guard try self.selectCustomerName.step() else { return .rejected(.unknownUser) }
            name = try self.selectCustomerName.text(0, "username")
        }
        let mac = self.seal.userMAC(userID: userID, username: name, passwordHash: passwordHash)
        try self.execute(self.updatePassword, .text(passwordHash), .blob(mac), .integer(userID))
        return .passwordChanged
    }

    private func applyMovements(_ movements: [LedgerBatchPlanner.Movement], nowMs: Int64) throws(LedgerError) -> LedgerBatchPlanner.Plan {
        let reads = LedgerBatchPlanner.reads(for: movements)
        var accounts: [Username: LedgerBatchPlanner.Account] = [:]
        for username in reads.usernames {
            defer { self.selectAccount.reset() }
            try self.selectAccount.bind(.text(username.canonical))
            guard try self.selectAccount.step() else { continue }
            accounts[username] = .init(
                userID: try self.selectAccount.int64(0, "id"), username: username,
                balanceCents: try self.selectAccount.int64(2, "balance_cents"), isCustomer: try self.selectAccount.int64(1, "kind") == 0)
        }
        var existing: [LedgerBatchPlanner.TransferKey: LedgerEntry] = [:]
        var chainHashes: [Int64: [UInt8]] = [:]
        for key in reads.transferKeys {
            defer { self.selectEntryByKey.reset() }
            try self.selectEntryByKey.bind(.integer(key.senderID), .text(key.transferID.value))
            guard try self.selectEntryByKey.step() else { continue }
            let entry = try self.existingEntry()
            existing[key] = entry
            chainHashes[entry.position] = self.selectEntryByKey.blob(11)
        }
        let (nextPosition, headHash) = try self.head()
        let plan = LedgerBatchPlanner.plan(
            movements, snapshot: .init(accountsByName: accounts, existingEntries: existing, nextPosition: nextPosition, headHash: headHash, chainHashes: chainHashes),
            nowMs: nowMs)
        for (entry, chainHash) in zip(plan.newEntries, plan.chainHashes) {
            try self.execute(
                self.insertEntry,
                .integer(entry.position), .integer(entry.kind.rawValue), .text(entry.transferID.value),
                .integer(entry.fromUserID), .integer(entry.toUserID), .integer(entry.amount.cents),
                .integer(entry.fromBalanceAfterCents), .integer(entry.toBalanceAfterCents), .integer(entry.createdAtMs),
                .blob(chainHash), .blob(self.seal.entryMAC(position: entry.position, chainHash: chainHash)))
        }
        for (userID, balance) in plan.changedBalances.sorted(by: { $0.key < $1.key }) {
            let updated = try self.execute(
                self.updateAccount, .integer(balance), .blob(self.seal.accountMAC(userID: userID, balanceCents: balance)), .integer(userID))
            // The planner only changes accounts read in this transaction, under its write lock.
            guard updated == 1 else { throw .storeUnavailable("database error: account \(userID) vanished during a commit") }
        }
        return plan
    }

    /// The entry `selectEntryByKey` is on.
    private func existingEntry() throws(LedgerError) -> LedgerEntry {
        let row = self.selectEntryByKey
        guard let kind = EntryKind(rawValue: try row.int64(1, "kind")) else { throw .storeUnavailable("database error: unexpected value in column kind") }
        let amountCents = try row.int64(5, "amount_cents")
        guard amountCents > 0 else { throw .storeUnavailable("database error: unexpected value in column amount_cents") }
        return LedgerEntry(
            position: try row.int64(0, "position"), kind: kind, transferID: TransferID(trusted: try row.text(2, "transfer_id")),
            fromUserID: try row.int64(3, "from_user"), from: Username(trustedCanonical: try row.text(9, "from_name")),
            toUserID: try row.int64(4, "to_user"), to: Username(trustedCanonical: try row.text(10, "to_name")),
            amount: Amount(cents: amountCents),
            fromBalanceAfterCents: try row.int64(6, "from_balance_after"), toBalanceAfterCents: try row.int64(7, "to_balance_after"),
            createdAtMs: try row.int64(8, "created_at_ms"))
    }

    /// The next position and the chain hash of the last entry.
    private func head() throws(LedgerError) -> (nextPosition: Int64, hash: [UInt8]) {
        defer { self.selectHead.reset() }
        guard try self.selectHead.step() else { return (1, LedgerSeal.genesisHash) }
        let position = try self.selectHead.int64(0, "position")
        guard let hash = self.selectHead.blob(1), hash.count == 32 else {
            throw .storeUnavailable("database error: unexpected value in column chain_hash")
        }
        return (position + 1, hash)
    }

    /// Runs a statement for its effect; returns the rows it changed.
    @discardableResult
    private func execute(_ statement: SQLiteStatement, _ values: SQLiteValue...) throws(LedgerError) -> Int {
        defer { statement.reset() }
        for (offset, value) in values.enumerated() {
            try statement.bind(at: Int32(offset + 1), value)
        }
        return try statement.run()
    }
}
