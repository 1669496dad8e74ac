import IntegraLedger

/// Brings a database file's schema up to `SQLiteSchema.latestVersion`, one migration per
/// transaction, so an interrupted upgrade resumes at the first version not yet recorded. Some
/// versions also rewrite rows (seals, name keys), in the same transaction as their statements.
enum SQLiteMigrator {
    /// Migrates on `connection`, which must be read-write and in WAL mode.
    static func migrate(_ connection: SQLiteConnection, seal: LedgerSeal) throws(LedgerError) {
        try connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        for migration in SQLiteSchema.migrations {
            try connection.execute("BEGIN IMMEDIATE")
            do {
                // Read inside the write transaction: another process may have migrated meanwhile.
                let current = try SQLiteSchema.version(of: connection)
                if current < migration.version {
                    precondition(current == migration.version - 1, "migrations are applied in order")
                    for statement in migration.statements {
                        try connection.execute(statement)
                    }
                    if migration.version == 3 { try Self.sealExistingRows(connection, seal: seal) }
                    if migration.version == 6 { try Self.resealUsers(connection, seal: seal) }
                    if migration.version == 7 { try Self.fillNameKeys(connection) }
                    try connection.run("INSERT INTO schema_version (version) VALUES (?1)", .integer(migration.version))
                }
                try connection.execute("COMMIT")
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// Seals rows written before the schema had seals: users, accounts, and the entries' chain.
    private static func sealExistingRows(_ connection: SQLiteConnection, seal: LedgerSeal) throws(LedgerError) {
        var users: [(id: Int64, name: String, hash: String)] = []
        try connection.run("SELECT id, username, password_hash FROM users") { (row) throws(LedgerError) in
            users.append((try row.convertedInt64(0, "id"), try row.text(1, "username"), try row.text(2, "password_hash")))
        }
        for user in users {
            let mac = seal.legacyUserMAC(userID: user.id, username: user.name, passwordHash: user.hash)
            try connection.run("UPDATE users SET mac = ?1 WHERE id = ?2", .blob(mac), .integer(user.id))
        }
        var accounts: [(id: Int64, balanceCents: Int64)] = []
        try connection.run("SELECT user_id, balance_cents FROM accounts") { (row) throws(LedgerError) in
            accounts.append((try row.convertedInt64(0, "user_id"), try row.convertedInt64(1, "balance_cents")))
        }
        for account in accounts {
            let mac = seal.accountMAC(userID: account.id, balanceCents: account.balanceCents)
            try connection.run("UPDATE accounts SET mac = ?1 WHERE user_id = ?2", .blob(mac), .integer(account.id))
        }
        var entries: [LedgerEntry] = []
        try connection.run("SELECT \(SQLiteEvidence.entryColumns) \(SQLiteEvidence.entryJoin) ORDER BY e.position") { (row) throws(LedgerError) in
            entries.append(try SQLiteEvidence.sealedEntry(row, converting: true).entry)
        }
        var previous = LedgerSeal.genesisHash
        for entry in entries {
            previous = LedgerSeal.chainHash(previous: previous, entry: entry)
            let mac = seal.entryMAC(position: entry.position, chainHash: previous)
            try connection.run("UPDATE entries SET chain_hash = ?1, mac = ?2 WHERE position = ?3", .blob(previous), .blob(mac), .integer(entry.position))
        }
    }

    /// Seals user rows with a credential version (0): only rows whose earlier seal is right, so
    /// a row changed outside Integra before the upgrade stays detectable.
    private static func resealUsers(_ connection: SQLiteConnection, seal: LedgerSeal) throws(LedgerError) {
        var users: [(id: Int64, name: String, hash: String, mac: [UInt8]?)] = []
        try connection.run("SELECT id, username, password_hash, mac FROM users") { (row) throws(LedgerError) in
            users.append((try row.convertedInt64(0, "id"), try row.text(1, "username"), try row.text(2, "password_hash"), row.blob(3)))
        }
        for user in users {
            guard seal.isValid(user.mac, expected: seal.legacyUserMAC(userID: user.id, username: user.name, passwordHash: user.hash)) else { continue }
            let mac = seal.userMAC(userID: user.id, username: user.name, passwordHash: user.hash, credentialVersion: 0)
            try connection.run("UPDATE users SET mac = ?1 WHERE id = ?2", .blob(mac), .integer(user.id))
        }
    }

    /// Gives every user row the form names are looked up by and its skeleton (names stored under
    /// the earlier rules keep their stored bytes, which the chain covers), then makes both unique.
    /// Where two earlier names now collide, the older account keeps the key and the later one
    /// gets none (it is no longer found by name; the operator is told by `migrate`).
    private static func fillNameKeys(_ connection: SQLiteConnection) throws(LedgerError) {
        var users: [(id: Int64, name: String)] = []
        try connection.run("SELECT id, username FROM users ORDER BY id") { (row) throws(LedgerError) in
            users.append((try row.convertedInt64(0, "id"), try row.text(1, "username")))
        }
        var lookups = Set<String>()
        var skeletons = Set<String>()
        for user in users {
            let keys = Username.keys(forStoredName: user.name)
            let unique = !lookups.contains(keys.lookupForm) && !skeletons.contains(keys.skeleton)
            if unique {
                lookups.insert(keys.lookupForm)
                skeletons.insert(keys.skeleton)
            }
            try connection.run(
                "UPDATE users SET lookup_name = ?1, skeleton = ?2 WHERE id = ?3",
                unique ? .text(keys.lookupForm) : .null, unique ? .text(keys.skeleton) : .null, .integer(user.id))
        }
        try connection.execute("CREATE UNIQUE INDEX users_lookup ON users(lookup_name)")
        try connection.execute("CREATE UNIQUE INDEX users_skeleton ON users(skeleton)")
    }
}
