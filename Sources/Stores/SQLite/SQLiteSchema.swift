import IntegraLedger

/// The versioned schema of the embedded store. Versions only ever get added; the MariaDB store
/// uses the same version numbers for the same logical schema.
enum SQLiteSchema {
    /// Each migration moves the schema from `version - 1` to `version`.
    struct Migration {
        let version: Int64
        let statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(version: 1, statements: [
            """
            CREATE TABLE users (
                id INTEGER PRIMARY KEY,
                username TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                kind INTEGER NOT NULL DEFAULT 0,
                created_at_ms INTEGER NOT NULL
            )
            """,
            """
            CREATE TABLE accounts (
                user_id INTEGER PRIMARY KEY REFERENCES users(id),
                balance_cents INTEGER NOT NULL,
                CHECK (balance_cents >= 0 OR user_id = 0)
            )
            """,
            """
            CREATE TABLE entries (
                position INTEGER PRIMARY KEY,
                kind INTEGER NOT NULL,
                transfer_id TEXT NOT NULL,
                from_user INTEGER NOT NULL REFERENCES users(id),
                to_user INTEGER NOT NULL REFERENCES users(id),
                amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
                from_balance_after INTEGER NOT NULL,
                to_balance_after INTEGER NOT NULL,
                created_at_ms INTEGER NOT NULL,
                UNIQUE (from_user, transfer_id)
            )
            """,
            "CREATE INDEX entries_from ON entries(from_user, position)",
            "CREATE INDEX entries_to ON entries(to_user, position)",
            """
            CREATE TABLE nonces (
                nonce BLOB PRIMARY KEY,
                expires_at_ms INTEGER NOT NULL
            ) WITHOUT ROWID
            """,
            "CREATE INDEX nonces_expiry ON nonces(expires_at_ms)",
            "INSERT INTO users (id, username, password_hash, kind, created_at_ms) VALUES (0, 'system', '!', 1, 0)",
            "INSERT INTO accounts (user_id, balance_cents) VALUES (0, 0)",
        ]),
        Migration(version: 2, statements: [
            "CREATE TABLE deployment (id INTEGER PRIMARY KEY CHECK (id = 1), fingerprint BLOB NOT NULL)",
        ]),
        // Tamper evidence: row MACs and the entries' hash chain. Existing rows are sealed by the
        // store right after this migration.
        Migration(version: 3, statements: [
            "ALTER TABLE users ADD COLUMN mac BLOB",
            "ALTER TABLE accounts ADD COLUMN mac BLOB",
            "ALTER TABLE entries ADD COLUMN chain_hash BLOB",
            "ALTER TABLE entries ADD COLUMN mac BLOB",
        ]),
        Migration(version: 4, statements: [
            "CREATE TABLE checkpoints (position INTEGER PRIMARY KEY, chain_hash BLOB NOT NULL, created_at_ms INTEGER NOT NULL, signature BLOB NOT NULL)",
        ]),
        // Nonces keyed by (expiry, nonce): a replayed frame carries the same timestamp, hence the
        // same key. New nonces land at the end of one B-tree (their expiries are all close to
        // now) instead of on a random page of a nonce index plus a page of an expiry index, and
        // pruning deletes a prefix of the key.
        Migration(version: 5, statements: [
            "CREATE TABLE nonces_by_expiry (expires_at_ms INTEGER NOT NULL, nonce BLOB NOT NULL, PRIMARY KEY (expires_at_ms, nonce)) WITHOUT ROWID",
            "INSERT INTO nonces_by_expiry (expires_at_ms, nonce) SELECT expires_at_ms, nonce FROM nonces",
            "DROP TABLE nonces",
            "ALTER TABLE nonces_by_expiry RENAME TO nonces",
        ]),
        // Fail-closed integrity: user rows get a credential version under their seal (the store
        // re-seals the rows whose earlier seal is right right after this), password changes are
        // ledger entries of kind 3 that move no money (SQLite can't change a CHECK in place, so
        // the entries table is copied into one that allows them, every byte kept), and
        // integrity alarms are kept, sealed, in the database as well as in the data directory.
        Migration(version: 6, statements: [
            "ALTER TABLE users ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0",
            """
            CREATE TABLE entries_v6 (
                position INTEGER PRIMARY KEY,
                kind INTEGER NOT NULL,
                transfer_id TEXT NOT NULL,
                from_user INTEGER NOT NULL REFERENCES users(id),
                to_user INTEGER NOT NULL REFERENCES users(id),
                amount_cents INTEGER NOT NULL CHECK ((kind IN (1, 2) AND amount_cents > 0) OR (kind = 3 AND amount_cents = 0)),
                from_balance_after INTEGER NOT NULL,
                to_balance_after INTEGER NOT NULL,
                created_at_ms INTEGER NOT NULL,
                chain_hash BLOB,
                mac BLOB,
                UNIQUE (from_user, transfer_id)
            )
            """,
            """
            INSERT INTO entries_v6 (position, kind, transfer_id, from_user, to_user, amount_cents, from_balance_after,
                                    to_balance_after, created_at_ms, chain_hash, mac)
            SELECT position, kind, transfer_id, from_user, to_user, amount_cents, from_balance_after,
                   to_balance_after, created_at_ms, chain_hash, mac FROM entries
            """,
            "DROP TABLE entries",
            "ALTER TABLE entries_v6 RENAME TO entries",
            "CREATE INDEX entries_from ON entries(from_user, position)",
            "CREATE INDEX entries_to ON entries(to_user, position)",
            """
            CREATE TABLE alarms (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                detail TEXT NOT NULL,
                raised_at_ms INTEGER NOT NULL,
                acknowledged_at_ms INTEGER,
                acknowledgement TEXT,
                mac BLOB
            ) WITHOUT ROWID
            """,
        ]),
        // Names a person can tell apart, and replay records keyed by what the frame carries:
        // users get the form names are looked up by and their confusable skeleton (filled by the
        // store right after this, then each made unique); request nonces are kept by (frame
        // timestamp, nonce), the earlier (expiry, nonce) records are still consulted until they
        // expire; deployment-wide settings (the widest replay window, the bcrypt cost).
        Migration(version: 7, statements: [
            "ALTER TABLE users ADD COLUMN lookup_name TEXT",
            "ALTER TABLE users ADD COLUMN skeleton TEXT",
            "CREATE TABLE request_nonces (timestamp_ms INTEGER NOT NULL, nonce BLOB NOT NULL, PRIMARY KEY (timestamp_ms, nonce)) WITHOUT ROWID",
            "CREATE INDEX nonces_nonce ON nonces(nonce)",
            "CREATE TABLE settings (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
        ]),
        // The transparency log: the ledger as an RFC 9162 Merkle tree. `tree_nodes` holds the
        // hash of every perfect subtree, (level, index) over leaves [index * 2^level, (index + 1)
        // * 2^level), leaf i being the entry at position i + 1; `tree_heads` holds one signed
        // head (a C2SP checkpoint note) per group commit. The store builds the tree of existing
        // entries right after this, a run at a time (`TreeBackfill`).
        Migration(version: 8, statements: [
            "CREATE TABLE tree_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID",
            "CREATE TABLE tree_heads (tree_size INTEGER PRIMARY KEY, root_hash BLOB NOT NULL, created_at_ms INTEGER NOT NULL, note BLOB NOT NULL)",
        ]),
    ]

    static var latestVersion: Int64 { migrations.last!.version }
}

extension SQLiteSchema {
    /// The schema version a database file is at: 0 before the first migration.
    static func version(of connection: SQLiteConnection) throws(LedgerError) -> Int64 {
        var hasTable = false
        try connection.run("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'") { _ in hasTable = true }
        guard hasTable else { return 0 }
        var version: Int64 = 0
        try connection.run("SELECT MAX(version) FROM schema_version") { row in version = row.optionalConvertedInt64(0) ?? 0 }
        return version
    }
}
