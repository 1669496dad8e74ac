import IntegraTransparency
import IntegraLedger

/// The store's plain reads: the schema version, settings, totals, the deployment's fingerprint,
/// and the whole-table reads of `verify` (entries, accounts, users, checkpoints). A read-only
/// connection (WAL lets it read beside the writer); nothing written goes through it. Not
/// thread-safe: the store uses it through a `SQLitePooledConnection`.
final class SQLiteReadConnection {
    let connection: SQLiteConnection

    init(path: String, busyTimeoutMs: Int32) throws(LedgerError) {
        let connection = try SQLiteConnection(path: path, busyTimeoutMs: busyTimeoutMs, readOnly: true)
        try connection.execute("PRAGMA query_only = ON")
        self.connection = connection
    }

    func schemaVersion() throws(LedgerError) -> Int64 {
        try SQLiteSchema.version(of: self.connection)
    }

    func setting(_ setting: Setting) throws(LedgerError) -> Int64? {
        var value: Int64?
        try self.connection.run("SELECT value FROM settings WHERE name = ?1", .text(setting.rawValue)) { (row) throws(LedgerError) in
            value = try row.convertedInt64(0, "value")
        }
        return value
    }

    func deploymentFingerprint() throws(LedgerError) -> [UInt8]? {
        var fingerprint: [UInt8]?
        try self.connection.run("SELECT fingerprint FROM deployment WHERE id = 1") { row in fingerprint = row.blob(0) ?? [] }
        return fingerprint
    }

    func summary() throws(LedgerError) -> LedgerSummary {
        var summary: LedgerSummary?
        try self.connection.run("""
            SELECT
              (SELECT COALESCE(SUM(balance_cents), 0) FROM accounts WHERE user_id <> 0),
              (SELECT COALESCE(SUM(amount_cents), 0) FROM entries WHERE kind = 2),
              (SELECT balance_cents FROM accounts WHERE user_id = 0),
              (SELECT COUNT(*) FROM users WHERE kind = 0),
              (SELECT COUNT(*) FROM entries)
            """) { (row) throws(LedgerError) in
            summary = LedgerSummary(
                customerBalanceCents: try row.convertedInt64(0, "customer_balance"), depositedCents: try row.convertedInt64(1, "deposited"),
                systemBalanceCents: try row.convertedInt64(2, "system_balance"), customers: try row.convertedInt64(3, "customers"),
                entries: try row.convertedInt64(4, "entries"))
        }
        guard let summary else { throw .storeUnavailable("database error: no row from the totals") }
        return summary
    }

    func head() throws(LedgerError) -> (position: Int64, chainHash: [UInt8]) {
        var head = (position: Int64(0), chainHash: LedgerSeal.genesisHash)
        try self.connection.run("SELECT position, chain_hash FROM entries ORDER BY position DESC LIMIT 1") { (row) throws(LedgerError) in
            head = (try row.convertedInt64(0, "position"), row.blob(1) ?? [])
        }
        return head
    }

    /// Entries with their seals after `afterPosition`, converting numbers as verify's page reader does.
    func sealedEntries(afterPosition: Int64, limit: Int) throws(LedgerError) -> [SealedEntry] {
        try SQLiteEvidence.sealedEntries(on: self.connection, afterPosition: afterPosition, limit: limit)
    }

    func checkpoints() throws(LedgerError) -> [LedgerCheckpoint] {
        var checkpoints: [LedgerCheckpoint] = []
        try self.connection.run("SELECT position, chain_hash, created_at_ms, signature FROM checkpoints ORDER BY position") { (row) throws(LedgerError) in
            checkpoints.append(LedgerCheckpoint(
                position: try row.convertedInt64(0, "position"), chainHash: row.blob(1) ?? [],
                createdAtMs: try row.convertedInt64(2, "created_at_ms"), signature: row.blob(3) ?? []))
        }
        return checkpoints
    }

    func sealedAccounts() throws(LedgerError) -> [SealedAccount] {
        var accounts: [SealedAccount] = []
        try self.connection.run(
            "SELECT a.user_id, u.username, a.balance_cents, a.mac FROM accounts a JOIN users u ON u.id = a.user_id ORDER BY a.user_id"
        ) { (row) throws(LedgerError) in
            accounts.append(SealedAccount(
                userID: try row.convertedInt64(0, "user_id"), username: try row.text(1, "username"),
                balanceCents: try row.convertedInt64(2, "balance_cents"), mac: row.blob(3)))
        }
        return accounts
    }

    func sealedUsers() throws(LedgerError) -> [SealedUser] {
        var users: [SealedUser] = []
        try self.connection.run(
            "SELECT id, username, password_hash, credential_version, mac, lookup_name, skeleton, kind FROM users ORDER BY id"
        ) { (row) throws(LedgerError) in
            users.append(SealedUser(
                id: try row.convertedInt64(0, "id"), username: try row.text(1, "username"), passwordHash: try row.text(2, "password_hash"),
                credentialVersion: try row.convertedInt64(3, "credential_version"), mac: row.blob(4),
                keys: UserKeys(lookupName: row.convertedText(5), skeleton: row.convertedText(6), kind: try row.convertedInt64(7, "kind"))))
        }
        return users
    }

    /// Signed tree heads with a tree size above `afterTreeSize`, smallest first.
    func treeHeads(afterTreeSize: UInt64, limit: Int) throws(LedgerError) -> [SignedTreeHead] {
        var heads: [SignedTreeHead] = []
        try self.connection.run(
            "SELECT tree_size, root_hash, created_at_ms, note FROM tree_heads WHERE tree_size > ?1 ORDER BY tree_size LIMIT ?2",
            .integer(Int64(bitPattern: afterTreeSize)), .integer(Int64(limit))
        ) { (row) throws(LedgerError) in heads.append(try SQLiteTreeRows.head(row)) }
        return heads
    }

    /// The stored head with the largest tree size.
    func latestTreeHead() throws(LedgerError) -> SignedTreeHead? {
        var head: SignedTreeHead?
        try self.connection.run("SELECT tree_size, root_hash, created_at_ms, note FROM tree_heads ORDER BY tree_size DESC LIMIT 1") { (row) throws(LedgerError) in
            head = try SQLiteTreeRows.head(row)
        }
        return head
    }

    /// Stored nodes by id (those missing are left out).
    func treeNodes(_ ids: [MerkleNodeID]) throws(LedgerError) -> [MerkleNodeID: [UInt8]] {
        var nodes: [MerkleNodeID: [UInt8]] = [:]
        for id in ids {
            try self.connection.run(
                "SELECT hash FROM tree_nodes WHERE level = ?1 AND idx = ?2", .integer(Int64(id.level)), .integer(Int64(bitPattern: id.index))
            ) { row in if let hash = row.blob(0) { nodes[id] = hash } }
        }
        return nodes
    }
}
