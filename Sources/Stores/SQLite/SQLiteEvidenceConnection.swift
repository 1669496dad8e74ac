import IntegraLedger
import NIOPosix

/// The store's read side for what the server is about to show or sign: users, accounts,
/// history pages and single entries, each with what its integrity check needs. A read-only
/// connection through the C API (WAL lets it read beside the writer), opened on first use, so a
/// store that never shows anything never opens it; used on the reader thread pool, one call at a
/// time.
final class SQLiteEvidenceConnection: Sendable {
    private let pooled: SQLitePooledConnection<Statements>
    private let verified: VerifiedRowCache

    /// The connection and its statements.
    private final class Statements {
        let connection: SQLiteConnection
        let evidence: SQLiteEvidence
        let begin: SQLiteStatement
        let commit: SQLiteStatement
        let userByName: SQLiteStatement
        let accountByID: SQLiteStatement
        let historyPositions: SQLiteStatement
        let alarms: SQLiteStatement

        init(path: String, verified: VerifiedRowCache) throws(LedgerError) {
            let connection = try SQLiteConnection(path: path, busyTimeoutMs: 10_000, readOnly: true)
            try connection.execute("PRAGMA query_only = ON")
            self.connection = connection
            self.evidence = try SQLiteEvidence(connection: connection, verified: verified)
            self.begin = try connection.prepare("BEGIN")
            self.commit = try connection.prepare("COMMIT")
            // The row and the latest credential entry in one statement: one snapshot, so a
            // password change committed in between can't look like a restored row.
            self.userByName = try connection.prepare("""
                SELECT id, username, password_hash, credential_version, mac,
                       (SELECT transfer_id FROM entries
                        WHERE from_user = users.id AND transfer_id >= 'credential#' AND transfer_id < 'credential$' AND kind = 3
                        ORDER BY transfer_id DESC LIMIT 1),
                       lookup_name, skeleton, kind
                FROM users WHERE lookup_name = ?1
                """)
            self.accountByID = try connection.prepare(
                "SELECT a.balance_cents, a.mac, u.username, u.credential_version FROM accounts a JOIN users u ON u.id = a.user_id WHERE a.user_id = ?1")
            self.historyPositions = try connection.prepare("""
                SELECT position FROM (
                    SELECT position FROM (SELECT position FROM entries WHERE from_user = ?1 AND position < ?2 AND kind <> 3 ORDER BY position DESC LIMIT ?3)
                    UNION ALL
                    SELECT position FROM (SELECT position FROM entries WHERE to_user = ?1 AND position < ?2 AND kind <> 3 ORDER BY position DESC LIMIT ?3))
                ORDER BY position DESC LIMIT ?3
                """)
            self.alarms = try connection.prepare(
                "SELECT id, kind, detail, raised_at_ms, acknowledged_at_ms, acknowledgement, mac FROM alarms ORDER BY raised_at_ms, id LIMIT ?1")
        }
    }

    init(path: String, threadPool: NIOThreadPool, verified: VerifiedRowCache) {
        self.verified = verified
        self.pooled = SQLitePooledConnection(
            threadPool: threadPool, open: { () throws(LedgerError) in try Statements(path: path, verified: verified) },
            close: { $0.connection.close() })
    }

    /// Runs `body` with the connection on the reader pool, in one read transaction (one snapshot
    /// of the database: a commit in between can't make a row and its entry disagree); every
    /// failure is the store's error.
    private func run<T: Sendable>(_ body: @escaping @Sendable (Statements) throws(LedgerError) -> T) async throws(LedgerError) -> T {
        let verified = self.verified
        return try await self.pooled.run { (connection) throws(LedgerError) -> T in
            connection.evidence.known = verified.knownPositions()
            try connection.begin.run()
            connection.begin.reset()
            defer {
                _ = try? connection.commit.run()
                connection.commit.reset()
            }
            return try body(connection)
        }
    }

    func user(named username: Username, seal: LedgerSeal) async throws(LedgerError) -> UserRecord? {
        try await self.run { connection throws(LedgerError) in
            let row = connection.userByName
            let user: SealedUser
            let latest: Int64
            do {
                defer { row.reset() }
                try row.bind(.text(username.canonical))
                guard try row.step() else { return nil }
                let keys = UserKeys(
                    lookupName: row.isNull(6) ? nil : try row.text(6, "lookup_name"), skeleton: row.isNull(7) ? nil : try row.text(7, "skeleton"),
                    kind: try row.int64(8, "kind"))
                user = SealedUser(
                    id: try row.int64(0, "id"), username: try row.text(1, "username"), passwordHash: try row.text(2, "password_hash"),
                    credentialVersion: try row.int64(3, "credential_version"), mac: row.blob(4), keys: keys)
                latest = row.isNull(5) ? 0 : CredentialEntry.version(transferID: try row.textBytes(5, "transfer_id")) ?? 0
            }
            return UserRecord.found(user, by: username, latestCredentialVersion: latest, seal: seal)
        }
    }

    func account(ofUserID userID: Int64) async throws(LedgerError) -> AccountEvidence? {
        try await self.run { connection throws(LedgerError) in
            let row = connection.accountByID
            let account: (balance: Int64, mac: [UInt8]?, username: String, credentialVersion: Int64)
            do {
                defer { row.reset() }
                try row.bind(.integer(userID))
                guard try row.step() else { return nil }
                account = (try row.int64(0, "balance_cents"), row.blob(1), try row.text(2, "username"), try row.int64(3, "credential_version"))
            }
            return try connection.evidence.account(
                userID: userID, username: account.username, credentialVersion: account.credentialVersion, balanceCents: account.balance, mac: account.mac)
        }
    }

    func history(ofUserID userID: Int64, beforePosition: Int64?, limit: Int) async throws(LedgerError) -> [EntryEvidence] {
        try await self.run { connection throws(LedgerError) in
            var positions: [Int64] = []
            do {
                let row = connection.historyPositions
                defer { row.reset() }
                try row.bind(.integer(userID), .integer(beforePosition ?? Int64.max), .integer(Int64(limit)))
                while try row.step() { positions.append(try row.int64(0, "position")) }
            }
            var page: [EntryEvidence] = []
            for position in positions {
                guard let evidence = try connection.evidence.entry(at: position) else { continue }
                page.append(evidence)
            }
            return page
        }
    }

    func entry(at position: Int64) async throws(LedgerError) -> EntryEvidence? {
        try await self.run { connection throws(LedgerError) in try connection.evidence.entry(at: position) }
    }

    func alarms(limit: Int) async throws(LedgerError) -> [SealedAlarm] {
        try await self.run { connection throws(LedgerError) in
            let row = connection.alarms
            defer { row.reset() }
            try row.bind(.integer(Int64(limit)))
            var alarms: [SealedAlarm] = []
            while try row.step() {
                let alarm = AlarmRecord(
                    id: try row.text(0, "id"), kind: try row.text(1, "kind"), detail: try row.text(2, "detail"),
                    raisedAtMs: try row.int64(3, "raised_at_ms"),
                    acknowledgedAtMs: row.isNull(4) ? nil : try row.int64(4, "acknowledged_at_ms"),
                    acknowledgement: row.isNull(5) ? nil : try row.text(5, "acknowledgement"))
                alarms.append(SealedAlarm(alarm: alarm, mac: row.blob(6)))
            }
            return alarms
        }
    }

    func close() async {
        await self.pooled.close()
    }
}
