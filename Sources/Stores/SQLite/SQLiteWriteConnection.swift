import IntegraLedger

/// The store's writer: one connection through the C API whose statements are prepared once, so
/// that a group commit (nonces, reads, checks, the plan, entries, balances, COMMIT) runs as one
/// call on the writer's thread: one hand-off to that thread and back per group, not one per
/// statement. Before planning, every account the group touches, every entry it would answer a
/// retry with and the ledger's head are checked (`LedgerIntegrity`), or found unchanged since
/// they were last checked (`VerifiedRowCache`); what fails is not spent.
/// Sendable only in the sense that the store hands it to that one thread, one call at a time.
final class SQLiteWriteConnection: @unchecked Sendable {
    /// The store's one writing connection, used only on the writer's thread.
    let connection: SQLiteConnection
    let seal: LedgerSeal
    /// Signs the tree head of every group that appends entries.
    let signer: TreeHeadSigner
    let verified: VerifiedRowCache
    let evidence: SQLiteEvidence
    let begin: SQLiteStatement
    let commit: SQLiteStatement
    let rollback: SQLiteStatement
    private let insertNonce: SQLiteStatement
    private let selectEarlierNonce: SQLiteStatement
    private let selectUserForRehash: SQLiteStatement
    private let rehashPassword: SQLiteStatement
    private let insertUser: SQLiteStatement
    private let sealUser: SQLiteStatement
    private let insertAccount: SQLiteStatement
    private let updatePassword: SQLiteStatement
    private let selectAccount: SQLiteStatement
    private let selectEntryByKey: SQLiteStatement
    private let selectHead: SQLiteStatement
    private let insertEntry: SQLiteStatement
    private let updateAccount: SQLiteStatement
    let insertTreeNode: SQLiteStatement
    let insertTreeHead: SQLiteStatement
    let selectLatestTreeHead: SQLiteStatement
    let selectTreeNode: SQLiteStatement

    init(path: String, seal: LedgerSeal, signer: TreeHeadSigner, verified: VerifiedRowCache, busyTimeoutMs: Int32) throws(LedgerError) {
        let connection = try SQLiteConnection(path: path, busyTimeoutMs: busyTimeoutMs)
        // The same settings as the connection that migrates (see `SQLiteLedgerStore.migrate`).
        try connection.execute("PRAGMA foreign_keys = ON")
        try connection.execute("PRAGMA temp_store = MEMORY")
        try connection.execute("PRAGMA synchronous = FULL")
        self.connection = connection
        self.seal = seal
        self.signer = signer
        self.verified = verified
        self.evidence = try SQLiteEvidence(connection: connection, verified: verified)
        self.begin = try connection.prepare("BEGIN IMMEDIATE")
        self.commit = try connection.prepare("COMMIT")
        self.rollback = try connection.prepare("ROLLBACK")
        self.insertNonce = try connection.prepare("INSERT INTO request_nonces (timestamp_ms, nonce) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
        // Nonces recorded before schema version 7, by (expiry, nonce), until they expire.
        self.selectEarlierNonce = try connection.prepare("SELECT 1 FROM nonces WHERE nonce = ?1 LIMIT 1")
        // Any unique key taken (the stored name, the lookup form, the skeleton): the name is taken.
        self.insertUser = try connection.prepare("""
            INSERT INTO users (username, lookup_name, skeleton, password_hash, kind, created_at_ms) VALUES (?1, ?1, ?2, ?3, 0, ?4)
            ON CONFLICT DO NOTHING RETURNING id
            """)
        self.selectUserForRehash = try connection.prepare("SELECT username, credential_version FROM users WHERE id = ?1 AND password_hash = ?2 AND kind = 0")
        self.rehashPassword = try connection.prepare("UPDATE users SET password_hash = ?1, mac = ?2 WHERE id = ?3")
        self.sealUser = try connection.prepare("UPDATE users SET mac = ?1 WHERE id = ?2")
        self.insertAccount = try connection.prepare("INSERT INTO accounts (user_id, balance_cents, mac) VALUES (?1, 0, ?2)")
        self.updatePassword = try connection.prepare("UPDATE users SET password_hash = ?1, credential_version = ?2, mac = ?3 WHERE id = ?4")
        self.selectAccount = try connection.prepare(
            "SELECT u.id, u.kind, a.balance_cents, a.mac, u.credential_version, u.username FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.lookup_name = ?1")
        self.selectEntryByKey = try connection.prepare(
            "SELECT \(SQLiteEvidence.entryColumns) \(SQLiteEvidence.entryJoin) WHERE e.from_user = ?1 AND e.transfer_id = ?2")
        self.selectHead = try connection.prepare("SELECT position, chain_hash FROM entries ORDER BY position DESC LIMIT 1")
        self.insertEntry = try connection.prepare("""
            INSERT INTO entries (position, kind, transfer_id, from_user, to_user, amount_cents, from_balance_after,
                                 to_balance_after, created_at_ms, chain_hash, mac)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
            """)
        self.updateAccount = try connection.prepare("UPDATE accounts SET balance_cents = ?1, mac = ?2 WHERE user_id = ?3")
        // Nodes never change once written; a row planted ahead of the tree is overwritten.
        self.insertTreeNode = try connection.prepare("INSERT OR REPLACE INTO tree_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")
        self.insertTreeHead = try connection.prepare("INSERT OR REPLACE INTO tree_heads (tree_size, root_hash, created_at_ms, note) VALUES (?1, ?2, ?3, ?4)")
        self.selectLatestTreeHead = try connection.prepare("SELECT tree_size, root_hash, created_at_ms, note FROM tree_heads ORDER BY tree_size DESC LIMIT 1")
        self.selectTreeNode = try connection.prepare("SELECT hash FROM tree_nodes WHERE level = ?1 AND idx = ?2")
    }

    func setWALAutocheckpoint(pages: Int) throws(LedgerError) {
        try self.connection.execute("PRAGMA wal_autocheckpoint = \(pages)")
    }

    /// Closes the connection; later commits fail as the store being unavailable.
    func close() {
        self.connection.close()
    }

    /// Fails as the store being unavailable once the connection is closed.
    func whileOpen() throws(LedgerError) {
        guard !self.connection.isClosed else { throw .storeUnavailable("the store is closed") }
    }

    /// Applies a group in one transaction; on any failure nothing of it is applied. What the
    /// transaction checked or wrote is remembered as verified only once it is committed.
    func commit(_ requests: [WriteRequest], nowMs: Int64) throws(LedgerError) -> [WriteOutcome] {
        try self.whileOpen()
        self.evidence.known = self.verified.knownPositions()
        try self.execute(self.begin)
        self.staged = VerifiedRowsStaging()
        do {
            let outcomes = try self.apply(requests, nowMs: nowMs)
            try self.execute(self.commit)
            self.staged.publish(to: self.verified)
            return outcomes
        } catch {
            // A failed COMMIT may already have rolled back; ROLLBACK then fails harmlessly.
            _ = try? self.execute(self.rollback)
            throw error
        }
    }

    /// What the running transaction checked or wrote, published once it commits.
    private var staged = VerifiedRowsStaging()

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
                case .rehashPassword(let userID, let expectedHash, let newHash):
                    return try self.rehash(userID: userID, expectedHash: expectedHash, newHash: newHash)
                case .recordNonce, .changePassword, .transfer, .deposit:
                    preconditionFailure("not an account change")
                }
            },
            applyMovements: { (movements) throws(LedgerError) in try self.applyMovements(movements, nowMs: nowMs).outcomes })
    }

    /// Records a nonce; true when it was not recorded before (nor by schema version 6 or older).
    private func record(_ nonce: NonceRecord) throws(LedgerError) -> Bool {
        do {
            defer { self.selectEarlierNonce.reset() }
            try self.selectEarlierNonce.bind(.blob(nonce.bytes))
            if try self.selectEarlierNonce.step() { return false }
        }
        defer { self.insertNonce.reset() }
        try self.insertNonce.bind(.integer(nonce.timestampMs), .blob(nonce.bytes))
        return try self.insertNonce.run() == 1
    }

    /// The same password hashed again, if the row still holds the hash that was checked.
    private func rehash(userID: Int64, expectedHash: String, newHash: String) throws(LedgerError) -> WriteOutcome {
        let row: (name: String, version: Int64)
        do {
            defer { self.selectUserForRehash.reset() }
            try self.selectUserForRehash.bind(.integer(userID), .text(expectedHash))
            guard try self.selectUserForRehash.step() else { return .rejected(.unknownUser) }
            row = (try self.selectUserForRehash.text(0, "username"), try self.selectUserForRehash.int64(1, "credential_version"))
        }
        let mac = self.seal.userMAC(userID: userID, username: row.name, passwordHash: newHash, credentialVersion: row.version)
        try self.execute(self.rehashPassword, .text(newHash), .blob(mac), .integer(userID))
        return .passwordChanged
    }

    private func createUser(_ username: Username, passwordHash: String, nowMs: Int64) throws(LedgerError) -> WriteOutcome {
        let id: Int64
        do {
            defer { self.insertUser.reset() }
            try self.insertUser.bind(.text(username.canonical), .text(username.skeleton), .text(passwordHash), .integer(nowMs))
            guard try self.insertUser.step() else { return .rejected(.usernameTaken) }
            id = try self.insertUser.int64(0, "id")
            try self.insertUser.run()
        }
        try self.execute(self.sealUser, .blob(self.seal.userMAC(userID: id, username: username.canonical, passwordHash: passwordHash, credentialVersion: 0)), .integer(id))
        let accountMAC = self.seal.accountMAC(userID: id, balanceCents: 0)
        try self.execute(self.insertAccount, .integer(id), .blob(accountMAC))
        self.staged.accounts.append((id, 0, accountMAC))
        return .userCreated(UserRecord(id: id, username: username, passwordHash: passwordHash))
    }

    private func applyMovements(_ movements: [LedgerBatchPlanner.Movement], nowMs: Int64) throws(LedgerError) -> LedgerBatchPlanner.Plan {
        let reads = LedgerBatchPlanner.reads(for: movements)
        var snapshot = LedgerBatchPlanner.Snapshot(accountsByName: [:], existingEntries: [:], nextPosition: 1)
        for username in reads.usernames {
            let row: (account: LedgerBatchPlanner.Account, mac: [UInt8]?, kind: Int64)
            do {
                defer { self.selectAccount.reset() }
                try self.selectAccount.bind(.text(username.canonical))
                guard try self.selectAccount.step() else { continue }
                row = (LedgerBatchPlanner.Account(
                    userID: try self.selectAccount.int64(0, "id"), username: Username(trustedCanonical: try self.selectAccount.text(5, "username")),
                    balanceCents: try self.selectAccount.int64(2, "balance_cents"), isCustomer: try self.selectAccount.int64(1, "kind") == 0,
                    credentialVersion: try self.selectAccount.int64(4, "credential_version")), self.selectAccount.blob(3), try self.selectAccount.int64(1, "kind"))
            }
            snapshot.accountsByName[username] = row.account
            let keys = UserKeys(lookupName: username.canonical, skeleton: nil, kind: row.kind)
            if let violation = LedgerIntegrity.checkKeys(keys, userID: row.account.userID, username: row.account.username.canonical) {
                snapshot.quarantined[username] = violation
            } else if let violation = try self.check(row.account, mac: row.mac) {
                snapshot.quarantined[username] = violation
            }
        }
        for key in reads.transferKeys {
            let sealed: SealedEntry
            do {
                defer { self.selectEntryByKey.reset() }
                try self.selectEntryByKey.bind(.integer(key.senderID), .text(key.transferID.value))
                guard try self.selectEntryByKey.step() else { continue }
                sealed = try SQLiteEvidence.sealedEntry(self.selectEntryByKey)
            }
            snapshot.existingEntries[key] = sealed.entry
            snapshot.chainHashes[sealed.entry.position] = sealed.chainHash
            // A retry is answered with a signed receipt of this entry: it must be genuine.
            let evidence = EntryEvidence(sealed: sealed, previousChainHash: try self.evidence.chainHash(at: sealed.entry.position - 1))
            if let violation = LedgerIntegrity.check(evidence, seal: self.seal) { snapshot.brokenEntries[key] = violation }
        }
        let head = try self.head()
        snapshot.nextPosition = head.position + 1
        snapshot.headHash = head.chainHash.count == LedgerSeal.hashByteCount ? head.chainHash : LedgerSeal.genesisHash
        var written: [LedgerEntry]? = nil
        snapshot.headViolation = try self.check(head: head, writtenElsewhere: &written)
        var tree: VerifiedTree? = nil
        if snapshot.headViolation == nil {
            switch try self.verifiedTree(at: head, entriesSinceCached: written) {
            case .success(let verifiedTree): tree = verifiedTree
            case .failure(let violation): snapshot.headViolation = violation
            }
        }
        var plan = LedgerBatchPlanner.plan(movements, snapshot: snapshot, nowMs: nowMs)
        for (entry, chainHash) in zip(plan.newEntries, plan.chainHashes) {
            try self.execute(
                self.insertEntry,
                .integer(entry.position), .integer(entry.kind.rawValue), .text(entry.transferID.value),
                .integer(entry.fromUserID), .integer(entry.toUserID), .integer(entry.amount.cents),
                .integer(entry.fromBalanceAfterCents), .integer(entry.toBalanceAfterCents), .integer(entry.createdAtMs),
                .blob(chainHash), .blob(self.seal.entryMAC(position: entry.position, chainHash: chainHash)))
            self.staged.wrote(entry)
        }
        for (userID, balance) in plan.changedBalances.sorted(by: { $0.key < $1.key }) {
            let mac = self.seal.accountMAC(userID: userID, balanceCents: balance)
            let updated = try self.execute(self.updateAccount, .integer(balance), .blob(mac), .integer(userID))
            // The planner only changes accounts read in this transaction, under its write lock.
            guard updated == 1 else { throw .storeUnavailable("database error: account \(userID) vanished during a commit") }
            self.staged.accounts.append((userID, balance, mac))
        }
        for update in plan.credentialUpdates {
            let mac = self.seal.userMAC(userID: update.userID, username: update.username.canonical, passwordHash: update.passwordHash, credentialVersion: update.credentialVersion)
            try self.execute(self.updatePassword, .text(update.passwordHash), .integer(update.credentialVersion), .blob(mac), .integer(update.userID))
        }
        if let last = plan.newEntries.last, let hash = plan.chainHashes.last {
            self.staged.head = LedgerIntegrity.ChainPoint(position: last.position, chainHash: hash)
        }
        // A plan is only made over a verified head, and so over a verified tree.
        guard let tree else { return plan }
        var batch: TreeBatch? = nil
        if !plan.newEntries.isEmpty {
            let grown = try LedgerTree.append(plan.newEntries, to: tree.frontier, signer: self.signer, nowMs: nowMs)
            try self.write(grown)
            self.staged.tree = VerifiedTree(frontier: grown.frontier, head: grown.head)
            batch = grown
        } else {
            self.staged.tree = tree
        }
        plan.outcomes = try LedgerTree.proving(plan.outcomes, batch: batch, latest: tree.head) { (ids) throws(LedgerError) in try self.treeNodes(ids) }
        return plan
    }

    /// Nil when the account row is one this store verified before, or passes its check now.
    private func check(_ account: LedgerBatchPlanner.Account, mac: [UInt8]?) throws(LedgerError) -> IntegrityViolation? {
        if self.verified.isVerified(userID: account.userID, balanceCents: account.balanceCents, mac: mac) { return nil }
        let evidence = try self.evidence.account(userID: account.userID, username: account.username.canonical, balanceCents: account.balanceCents, mac: mac)
        if let violation = LedgerIntegrity.check(evidence, seal: self.seal) { return violation }
        if let mac { self.staged.accounts.append((account.userID, account.balanceCents, mac)) }
        return nil
    }

    /// Nil when the head is the one this store committed or verified last, or extends it with
    /// genuine entries (written by another process); otherwise the rollback or rewrite found.
    /// `writtenElsewhere` gets the entries it checked after the verified head, if any.
    private func check(head: LedgerIntegrity.ChainPoint, writtenElsewhere: inout [LedgerEntry]?) throws(LedgerError) -> IntegrityViolation? {
        var checked: [LedgerEntry]? = nil
        let violation = try LedgerIntegrity.checkHead(
            head, verified: self.verified.head, seal: self.seal,
            headEntry: { (position) throws(LedgerError) in try self.evidence.entry(at: position) },
            entries: { (after, through) throws(LedgerError) in
                let run = try self.evidence.entries(after: after, through: through)
                checked = (checked ?? []) + run.map(\.entry)
                return run
            })
        if self.verified.head != nil && self.verified.tree?.frontier.treeSize == UInt64(max(0, self.verified.head?.position ?? 0)) {
            writtenElsewhere = checked ?? []
        }
        if violation == nil { self.staged.head = head }
        return violation
    }

    /// The last entry's position and chain hash (the genesis point for an empty ledger).
    func head() throws(LedgerError) -> LedgerIntegrity.ChainPoint {
        defer { self.selectHead.reset() }
        guard try self.selectHead.step() else { return .genesis }
        return LedgerIntegrity.ChainPoint(position: try self.selectHead.int64(0, "position"), chainHash: self.selectHead.blob(1) ?? [])
    }

    /// Runs a statement for its effect; returns the rows it changed.
    @discardableResult
    func execute(_ statement: SQLiteStatement, _ values: SQLiteValue...) throws(LedgerError) -> Int {
        defer { statement.reset() }
        for (offset, value) in values.enumerated() {
            try statement.bind(at: Int32(offset + 1), value)
        }
        return try statement.run()
    }
}

