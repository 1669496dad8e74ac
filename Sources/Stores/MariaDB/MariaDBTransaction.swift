#if MariaDB
import IntegraLedger

/// One group commit on MariaDB, inside a transaction the store opened: it locks the ledger head
/// (every append, on any instance, queues there), records nonces, checks every account the group
/// touches, every entry it would answer a retry with and the head itself (`LedgerIntegrity`,
/// skipping rows `VerifiedRowCache` vouches for), plans, and writes. `staged` is published by
/// the store once COMMIT succeeded.
struct MariaDBTransaction {
    private let seal: LedgerSeal
    private let signer: TreeHeadSigner
    private let verified: VerifiedRowCache
    /// Latest positions as known before the transaction began.
    private let known: VerifiedRowCache.KnownPositions
    private let connection: MariaDBConnection
    /// What the transaction checked or wrote.
    private(set) var staged = VerifiedRowsStaging()
    private static let rowsPerStatement = MariaDBEvidence.rowsPerStatement

    init(seal: LedgerSeal, signer: TreeHeadSigner, verified: VerifiedRowCache, known: VerifiedRowCache.KnownPositions, connection: MariaDBConnection) {
        self.seal = seal
        self.signer = signer
        self.verified = verified
        self.known = known
        self.connection = connection
    }

    mutating func apply(_ requests: [WriteRequest], nowMs: Int64) throws -> [WriteOutcome] {
        // Lock the ledger head first: every append, on any instance, queues here.
        var head = LedgerIntegrity.ChainPoint.genesis
        if requests.contains(where: { $0.operation.appendsToLedger }) {
            let rows = try self.connection.query("SELECT position, chain_hash FROM ledger_head WHERE id = 1 FOR UPDATE")
            let position = try rows.int64(0, 0)
            head = LedgerIntegrity.ChainPoint(position: position, chainHash: position == 0 ? LedgerSeal.genesisHash : rows.rows.first?[1] ?? [])
        }
        let fresh = try Self.recordNonces(requests.compactMap(\.nonce), connection: self.connection)
        var transaction = self
        let outcomes = try LedgerBatchPlanner.outcomes(
            of: requests, freshNonces: fresh,
            applyAccountChange: { operation in
                switch operation {
                case .createUser(let username, let passwordHash):
                    return try transaction.createUser(username, passwordHash: passwordHash, nowMs: nowMs)
                case .rehashPassword(let userID, let expectedHash, let newHash):
                    return try transaction.rehash(userID: userID, expectedHash: expectedHash, newHash: newHash)
                case .recordNonce, .changePassword, .transfer, .deposit:
                    preconditionFailure("not an account change")
                }
            },
            applyMovements: { movements in try transaction.applyMovements(movements, head: head, nowMs: nowMs).outcomes })
        self = transaction
        return outcomes
    }

    /// Inserts the nonces; returns those not seen before (nor recorded, by expiry, before schema
    /// version 7). The fast path is one multi-row insert; only when it hits a duplicate does it
    /// fall back to one insert per nonce.
    private static func recordNonces(_ nonces: [NonceRecord], connection: MariaDBConnection) throws(MariaDBError) -> Set<[UInt8]> {
        var fresh = Set<[UInt8]>()
        for chunk in nonces.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            let earlier = try connection.query("SELECT nonce FROM nonces WHERE nonce IN (\(placeholders))", chunk.map { .bytes($0.bytes) })
            let recordedEarlier = Set(earlier.rows.compactMap { $0[0] })
            let candidates = chunk.filter { !recordedEarlier.contains($0.bytes) }
            guard !candidates.isEmpty else { continue }
            let pairs = Array(repeating: "(?, ?)", count: candidates.count).joined(separator: ", ")
            var parameters: [MariaDBValue] = []
            for nonce in candidates {
                parameters.append(.int(nonce.timestampMs))
                parameters.append(.bytes(nonce.bytes))
            }
            if try connection.insertUnlessDuplicate("INSERT INTO request_nonces (timestamp_ms, nonce) VALUES \(pairs)", parameters) != nil {
                for nonce in candidates { fresh.insert(nonce.bytes) }
                continue
            }
            for nonce in candidates {
                let parameters: [MariaDBValue] = [.int(nonce.timestampMs), .bytes(nonce.bytes)]
                if try connection.insertUnlessDuplicate("INSERT INTO request_nonces (timestamp_ms, nonce) VALUES (?, ?)", parameters) != nil {
                    fresh.insert(nonce.bytes)
                }
            }
        }
        return fresh
    }

    /// The same password hashed again, if the row still holds the hash that was checked.
    private func rehash(userID: Int64, expectedHash: String, newHash: String) throws(MariaDBError) -> WriteOutcome {
        let rows = try self.connection.query(
            "SELECT username, credential_version FROM users WHERE id = ? AND password_hash = ? AND kind = 0 FOR UPDATE", [.int(userID), .text(expectedHash)])
        guard !rows.rows.isEmpty else { return .rejected(.unknownUser) }
        let mac = self.seal.userMAC(userID: userID, username: try rows.text(0, 0), passwordHash: newHash, credentialVersion: try rows.int64(0, 1))
        try self.connection.query("UPDATE users SET password_hash = ?, mac = ? WHERE id = ?", [.text(newHash), .bytes(mac), .int(userID)])
        return .passwordChanged
    }

    private mutating func createUser(_ username: Username, passwordHash: String, nowMs: Int64) throws(MariaDBError) -> WriteOutcome {
        // Any unique key taken (the stored name, the lookup form, the skeleton): the name is taken.
        let parameters: [MariaDBValue] = [.text(username.canonical), .text(username.canonical), .text(username.skeleton), .text(passwordHash), .int(nowMs)]
        guard let inserted = try self.connection.insertUnlessDuplicate(
            "INSERT INTO users (username, lookup_name, skeleton, password_hash, kind, created_at_ms) VALUES (?, ?, ?, ?, 0, ?)", parameters)
        else {
            return .rejected(.usernameTaken)
        }
        let id = Int64(inserted.insertID)
        let userMAC = self.seal.userMAC(userID: id, username: username.canonical, passwordHash: passwordHash, credentialVersion: 0)
        try self.connection.query("UPDATE users SET mac = ? WHERE id = ?", [.bytes(userMAC), .int(id)])
        let accountMAC = self.seal.accountMAC(userID: id, balanceCents: 0)
        try self.connection.query("INSERT INTO accounts (user_id, balance_cents, mac) VALUES (?, 0, ?)", [.int(id), .bytes(accountMAC)])
        self.staged.accounts.append((id, 0, accountMAC))
        return .userCreated(UserRecord(id: id, username: username, passwordHash: passwordHash))
    }

    private mutating func applyMovements(_ movements: [LedgerBatchPlanner.Movement], head: LedgerIntegrity.ChainPoint, nowMs: Int64) throws -> LedgerBatchPlanner.Plan {
        let reads = LedgerBatchPlanner.reads(for: movements)
        var snapshot = LedgerBatchPlanner.Snapshot(
            accountsByName: [:], existingEntries: [:], nextPosition: head.position + 1,
            headHash: head.chainHash.count == LedgerSeal.hashByteCount ? head.chainHash : LedgerSeal.genesisHash)
        var unverified: [MariaDBEvidence.AccountRow] = []
        for chunk in reads.usernames.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            let rows = try self.connection.query(
                "SELECT u.id, u.username, u.kind, a.balance_cents, a.mac, u.credential_version, u.lookup_name FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.lookup_name IN (\(placeholders)) ORDER BY u.id FOR UPDATE",
                chunk.map { .text($0.canonical) })
            for row in rows.rows.indices {
                // Keyed by the form it was looked up by; the entry records the stored name.
                let lookup = Username(trustedCanonical: try rows.text(row, 6))
                let account = LedgerBatchPlanner.Account(
                    userID: try rows.int64(row, 0), username: Username(trustedCanonical: try rows.text(row, 1)), balanceCents: try rows.int64(row, 3),
                    isCustomer: try rows.int64(row, 2) == 0, credentialVersion: try rows.int64(row, 5))
                snapshot.accountsByName[lookup] = account
                let keys = UserKeys(lookupName: lookup.canonical, skeleton: nil, kind: try rows.int64(row, 2))
                if let violation = LedgerIntegrity.checkKeys(keys, userID: account.userID, username: account.username.canonical) {
                    snapshot.quarantined[lookup] = violation
                }
                let mac = rows.rows[row][4]
                if !self.verified.isVerified(userID: account.userID, balanceCents: account.balanceCents, mac: mac) {
                    unverified.append(.init(userID: account.userID, username: account.username.canonical, balanceCents: account.balanceCents, mac: mac))
                }
            }
        }
        for evidence in try MariaDBEvidence.accounts(unverified, connection: self.connection, known: self.known) {
            if let violation = LedgerIntegrity.check(evidence, seal: self.seal) {
                for (name, account) in snapshot.accountsByName where account.userID == evidence.userID { snapshot.quarantined[name] = violation }
            } else if let mac = evidence.mac {
                self.staged.accounts.append((evidence.userID, evidence.balanceCents, mac))
            }
        }
        try self.loadExistingEntries(reads.transferKeys, into: &snapshot)
        var written: [LedgerEntry]? = nil
        snapshot.headViolation = try self.check(head: head, writtenElsewhere: &written)
        var tree: VerifiedTree? = nil
        if snapshot.headViolation == nil {
            let connection = self.connection
            switch try LedgerTreeCheck.verifiedTree(
                cached: self.verified.tree, headPosition: head.position, verifier: self.signer.verifier, entriesSinceCached: written,
                latestStoredHead: { try MariaDBTreeRows.latestHead(connection) }, storedNodes: { try MariaDBTreeRows.nodes($0, connection) })
            {
            case .success(let verifiedTree): tree = verifiedTree
            case .failure(let violation): snapshot.headViolation = violation
            }
        }
        var plan = LedgerBatchPlanner.plan(movements, snapshot: snapshot, nowMs: nowMs)
        try self.write(plan)
        // A plan is only made over a verified head, and so over a verified tree.
        guard let tree else { return plan }
        var batch: TreeBatch? = nil
        if !plan.newEntries.isEmpty {
            let grown = try LedgerTree.append(plan.newEntries, to: tree.frontier, signer: self.signer, nowMs: nowMs)
            try MariaDBTreeRows.write(grown.nodes, self.connection)
            try MariaDBTreeRows.write(grown.head, self.connection)
            self.staged.tree = VerifiedTree(frontier: grown.frontier, head: grown.head)
            batch = grown
        } else {
            self.staged.tree = tree
        }
        let connection = self.connection
        plan.outcomes = try LedgerTree.proving(plan.outcomes, batch: batch, latest: tree.head) { try MariaDBTreeRows.nodes($0, connection) }
        return plan
    }

    /// Entries already committed under the batch's keys; each must be genuine, since a retry is
    /// answered with a signed receipt of it.
    private func loadExistingEntries(_ keys: [LedgerBatchPlanner.TransferKey], into snapshot: inout LedgerBatchPlanner.Snapshot) throws {
        var found: [(key: LedgerBatchPlanner.TransferKey, position: Int64)] = []
        for chunk in keys.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "(?, ?)", count: chunk.count).joined(separator: ", ")
            var parameters: [MariaDBValue] = []
            for key in chunk {
                parameters.append(.int(key.senderID))
                parameters.append(.text(key.transferID.value))
            }
            // Entries drive the join: a range on the unique `entries_idempotency` key.
            let rows = try self.connection.query(
                "SELECT STRAIGHT_JOIN e.from_user, e.transfer_id, e.position FROM entries e WHERE (e.from_user, e.transfer_id) IN (\(placeholders))", parameters)
            for row in rows.rows.indices {
                let key = LedgerBatchPlanner.TransferKey(senderID: try rows.int64(row, 0), transferID: TransferID(trusted: try rows.text(row, 1)))
                found.append((key, try rows.int64(row, 2)))
            }
        }
        guard !found.isEmpty else { return }
        let evidence = try MariaDBEvidence.entries(at: found.map(\.position), connection: self.connection)
        for (key, position) in found {
            guard let entry = evidence[position] else {
                snapshot.brokenEntries[key] = IntegrityViolation(kind: .entryChanged, message: "entry \(position) names users that no longer exist")
                continue
            }
            snapshot.existingEntries[key] = entry.sealed.entry
            snapshot.chainHashes[position] = entry.sealed.chainHash
            if let violation = LedgerIntegrity.check(entry, seal: self.seal) { snapshot.brokenEntries[key] = violation }
        }
    }

    /// Nil when the locked head is the one this instance committed or verified last, or extends
    /// it with genuine entries (written by another instance); otherwise the rollback or rewrite.
    /// `writtenElsewhere` gets the entries it checked after the verified head, if any.
    private mutating func check(head: LedgerIntegrity.ChainPoint, writtenElsewhere: inout [LedgerEntry]?) throws -> IntegrityViolation? {
        let connection = self.connection
        var checked: [LedgerEntry] = []
        let violation = try LedgerIntegrity.checkHead(
            head, verified: self.verified.head, seal: self.seal,
            headEntry: { position in try MariaDBEvidence.entries(at: [position], connection: connection)[position] },
            entries: { after, through in
                let run = try MariaDBEvidence.entries(after: after, through: through, limit: 10_000, connection: connection)
                checked += run.map(\.entry)
                return run
            })
        if let verifiedHead = self.verified.head, self.verified.tree?.frontier.treeSize == UInt64(max(0, verifiedHead.position)) {
            writtenElsewhere = checked
        }
        if violation == nil { self.staged.head = head }
        return violation
    }

    private mutating func write(_ plan: LedgerBatchPlanner.Plan) throws {
        let sealed = Array(zip(plan.newEntries, plan.chainHashes))
        for entry in plan.newEntries { self.staged.wrote(entry) }
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
                parameters.append(MariaDBValue.bytes(self.seal.entryMAC(position: entry.position, chainHash: chainHash)))
            }
            try self.connection.query(
                "INSERT INTO entries (position, kind, transfer_id, from_user, to_user, amount_cents, from_balance_after, to_balance_after, created_at_ms, chain_hash, mac) VALUES \(placeholders)",
                parameters)
        }
        for chunk in plan.changedBalances.sorted(by: { $0.key < $1.key }).chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "(?, ?, ?)", count: chunk.count).joined(separator: ", ")
            var parameters: [MariaDBValue] = []
            for (userID, balance) in chunk {
                let mac = self.seal.accountMAC(userID: userID, balanceCents: balance)
                parameters.append(.int(userID))
                parameters.append(.int(balance))
                parameters.append(.bytes(mac))
                self.staged.accounts.append((userID, balance, mac))
            }
            try self.connection.query(
                "INSERT INTO accounts (user_id, balance_cents, mac) VALUES \(placeholders) ON DUPLICATE KEY UPDATE balance_cents = VALUES(balance_cents), mac = VALUES(mac)",
                parameters)
        }
        for update in plan.credentialUpdates {
            let mac = self.seal.userMAC(userID: update.userID, username: update.username.canonical, passwordHash: update.passwordHash, credentialVersion: update.credentialVersion)
            try self.connection.query(
                "UPDATE users SET password_hash = ?, credential_version = ?, mac = ? WHERE id = ?",
                [.text(update.passwordHash), .int(update.credentialVersion), .bytes(mac), .int(update.userID)])
        }
        if let last = plan.newEntries.last, let hash = plan.chainHashes.last {
            try self.connection.query("UPDATE ledger_head SET position = ?, chain_hash = ? WHERE id = 1", [.int(last.position), .bytes(hash)])
            self.staged.head = LedgerIntegrity.ChainPoint(position: last.position, chainHash: hash)
        }
    }
}
#endif
