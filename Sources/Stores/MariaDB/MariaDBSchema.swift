#if MariaDB
/// The MariaDB schema, with the same version numbers as the SQLite schema for the same content.
enum MariaDBSchema {
    struct Migration {
        let version: Int64
        let statements: [String]
    }

    static let tableOptions = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

    static let migrations: [Migration] = [
        Migration(version: 1, statements: [
            """
            CREATE TABLE users (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                username VARCHAR(200) NOT NULL,
                password_hash VARCHAR(255) NOT NULL,
                kind TINYINT NOT NULL DEFAULT 0,
                created_at_ms BIGINT NOT NULL,
                UNIQUE KEY users_username (username)
            ) \(tableOptions)
            """,
            """
            CREATE TABLE accounts (
                user_id BIGINT NOT NULL PRIMARY KEY,
                balance_cents BIGINT NOT NULL,
                CONSTRAINT accounts_user FOREIGN KEY (user_id) REFERENCES users (id),
                CONSTRAINT accounts_not_negative CHECK (balance_cents >= 0 OR user_id = 0)
            ) \(tableOptions)
            """,
            """
            CREATE TABLE entries (
                position BIGINT NOT NULL PRIMARY KEY,
                kind TINYINT NOT NULL,
                transfer_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                from_user BIGINT NOT NULL,
                to_user BIGINT NOT NULL,
                amount_cents BIGINT NOT NULL,
                from_balance_after BIGINT NOT NULL,
                to_balance_after BIGINT NOT NULL,
                created_at_ms BIGINT NOT NULL,
                UNIQUE KEY entries_idempotency (from_user, transfer_id),
                KEY entries_from (from_user, position),
                KEY entries_to (to_user, position),
                CONSTRAINT entries_from_user FOREIGN KEY (from_user) REFERENCES users (id),
                CONSTRAINT entries_to_user FOREIGN KEY (to_user) REFERENCES users (id),
                CONSTRAINT entries_positive CHECK (amount_cents > 0)
            ) \(tableOptions)
            """,
            """
            CREATE TABLE nonces (
                nonce BINARY(16) NOT NULL PRIMARY KEY,
                expires_at_ms BIGINT NOT NULL,
                KEY nonces_expiry (expires_at_ms)
            ) \(tableOptions)
            """,
            "CREATE TABLE ledger_head (id TINYINT NOT NULL PRIMARY KEY, position BIGINT NOT NULL) \(tableOptions)",
            "INSERT INTO ledger_head (id, position) VALUES (1, 0)",
            "INSERT INTO users (id, username, password_hash, kind, created_at_ms) VALUES (0, 'system', '!', 1, 0)",
            "INSERT INTO accounts (user_id, balance_cents) VALUES (0, 0)",
        ]),
        Migration(version: 2, statements: [
            "CREATE TABLE deployment (id TINYINT NOT NULL PRIMARY KEY, fingerprint VARBINARY(64) NOT NULL) \(tableOptions)",
        ]),
        // Tamper evidence: row MACs and the entries' hash chain (sealed by the store after this).
        Migration(version: 3, statements: [
            "ALTER TABLE users ADD COLUMN mac VARBINARY(32) NULL",
            "ALTER TABLE accounts ADD COLUMN mac VARBINARY(32) NULL",
            "ALTER TABLE entries ADD COLUMN chain_hash VARBINARY(32) NULL, ADD COLUMN mac VARBINARY(32) NULL",
            "ALTER TABLE ledger_head ADD COLUMN chain_hash VARBINARY(32) NULL",
        ]),
        Migration(version: 4, statements: [
            "CREATE TABLE checkpoints (position BIGINT NOT NULL PRIMARY KEY, chain_hash VARBINARY(32) NOT NULL, created_at_ms BIGINT NOT NULL, signature VARBINARY(64) NOT NULL) \(tableOptions)",
        ]),
        // Nonces clustered by (expiry, nonce): a replayed frame carries the same timestamp, hence
        // the same key. New rows go to the end of one index instead of a random page of the
        // primary key plus a page of a secondary expiry index; pruning deletes a key prefix.
        Migration(version: 5, statements: [
            "ALTER TABLE nonces DROP PRIMARY KEY, DROP INDEX nonces_expiry, ADD PRIMARY KEY (expires_at_ms, nonce)",
        ]),
        // Fail-closed integrity: user rows get a credential version under their seal (the store
        // re-seals the rows whose earlier seal is right after this), password changes are ledger
        // entries of kind 3 that move no money, and integrity alarms are kept, sealed, in the
        // database as well as in the data directory. Every statement can run again after an
        // interruption.
        Migration(version: 6, statements: [
            "ALTER TABLE users ADD COLUMN IF NOT EXISTS credential_version BIGINT NOT NULL DEFAULT 0",
            // One copy of the table: both constraint changes in one statement.
            """
            ALTER TABLE entries DROP CONSTRAINT IF EXISTS entries_positive, DROP CONSTRAINT IF EXISTS entries_amount,
                ADD CONSTRAINT entries_amount CHECK ((kind IN (1, 2) AND amount_cents > 0) OR (kind = 3 AND amount_cents = 0))
            """,
            """
            CREATE TABLE IF NOT EXISTS alarms (
                id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
                kind VARCHAR(64) NOT NULL,
                detail TEXT NOT NULL,
                raised_at_ms BIGINT NOT NULL,
                acknowledged_at_ms BIGINT NULL,
                acknowledgement TEXT NULL,
                mac VARBINARY(32) NULL
            ) \(tableOptions)
            """,
        ]),
        // Names a person can tell apart, and replay records keyed by what the frame carries
        // (see the SQLite schema); the name keys are filled, then made unique, by the store.
        Migration(version: 7, statements: [
            "ALTER TABLE users ADD COLUMN IF NOT EXISTS lookup_name VARCHAR(200) NULL, ADD COLUMN IF NOT EXISTS skeleton VARCHAR(512) NULL",
            "CREATE TABLE IF NOT EXISTS request_nonces (timestamp_ms BIGINT NOT NULL, nonce BINARY(16) NOT NULL, PRIMARY KEY (timestamp_ms, nonce)) \(tableOptions)",
            "ALTER TABLE nonces ADD INDEX IF NOT EXISTS nonces_nonce (nonce)",
            "CREATE TABLE IF NOT EXISTS settings (name VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY, value BIGINT NOT NULL) \(tableOptions)",
        ]),
        // The transparency log (see the SQLite schema); the store builds the tree of existing
        // entries right after this, a run at a time.
        Migration(version: 8, statements: [
            "CREATE TABLE IF NOT EXISTS tree_nodes (level TINYINT NOT NULL, idx BIGINT NOT NULL, hash BINARY(32) NOT NULL, PRIMARY KEY (level, idx)) \(tableOptions)",
            "CREATE TABLE IF NOT EXISTS tree_heads (tree_size BIGINT NOT NULL PRIMARY KEY, root_hash BINARY(32) NOT NULL, created_at_ms BIGINT NOT NULL, note VARBINARY(16384) NOT NULL) \(tableOptions)",
        ]),
    ]
}
#endif
