import IntegraLedger

/// The store's writes outside group commits: alarms, checkpoints, settings, the deployment's
/// fingerprint and nonce pruning. Each is one statement in a transaction of its own, on the
/// writer's connection and thread, so they queue behind commits instead of waiting on SQLite's
/// lock from a connection of their own.
extension SQLiteWriteConnection {
    func recordAlarm(_ alarm: AlarmRecord, mac: [UInt8]) throws(LedgerError) {
        try self.whileOpen()
        try self.connection.run("""
            INSERT INTO alarms (id, kind, detail, raised_at_ms, acknowledged_at_ms, acknowledgement, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            ON CONFLICT (id) DO UPDATE SET acknowledged_at_ms = excluded.acknowledged_at_ms, acknowledgement = excluded.acknowledgement, mac = excluded.mac
            """,
            .text(alarm.id), .text(alarm.kind), .text(alarm.detail), .integer(alarm.raisedAtMs),
            alarm.acknowledgedAtMs.map { .integer($0) } ?? .null, alarm.acknowledgement.map { .text($0) } ?? .null, .blob(mac))
    }

    func recordCheckpoint(_ checkpoint: LedgerCheckpoint) throws(LedgerError) {
        try self.whileOpen()
        try self.connection.run(
            "INSERT OR IGNORE INTO checkpoints (position, chain_hash, created_at_ms, signature) VALUES (?1, ?2, ?3, ?4)",
            .integer(checkpoint.position), .blob(checkpoint.chainHash), .integer(checkpoint.createdAtMs), .blob(checkpoint.signature))
    }

    /// Records a setting (only if larger with `onlyRaise`); returns the value recorded afterwards.
    func record(_ setting: Setting, _ value: Int64, onlyRaise: Bool) throws(LedgerError) -> Int64 {
        try self.whileOpen()
        let update = onlyRaise ? "MAX(value, excluded.value)" : "excluded.value"
        var recorded = value
        try self.connection.run(
            "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = \(update) RETURNING value",
            .text(setting.rawValue), .integer(value)
        ) { (row) throws(LedgerError) in recorded = try row.convertedInt64(0, "value") }
        return recorded
    }

    /// The deployment fingerprint the store is bound to, binding it to `fingerprint` if it is
    /// bound to none yet.
    func bindDeployment(fingerprint: [UInt8]) throws(LedgerError) -> [UInt8] {
        try self.whileOpen()
        var bound: [UInt8]?
        try self.connection.run("SELECT fingerprint FROM deployment WHERE id = 1") { row in bound = row.blob(0) ?? [] }
        if let bound { return bound }
        var stored: [UInt8] = []
        try self.connection.run(
            "INSERT INTO deployment (id, fingerprint) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET id = id RETURNING fingerprint",
            .blob(fingerprint)
        ) { row in stored = row.blob(0) ?? [] }
        return stored
    }

    /// Forgets nonces of frames stamped before `olderThanMs`; returns how many.
    func pruneNonces(olderThanMs: Int64) throws(LedgerError) -> Int {
        try self.whileOpen()
        let current = try self.connection.run("DELETE FROM request_nonces WHERE timestamp_ms < ?1", .integer(olderThanMs))
        // An earlier record expired at its timestamp plus the window of its day, so it is gone
        // once that is before the cut too.
        let earlier = try self.connection.run("DELETE FROM nonces WHERE expires_at_ms < ?1", .integer(olderThanMs))
        return current + earlier
    }
}
