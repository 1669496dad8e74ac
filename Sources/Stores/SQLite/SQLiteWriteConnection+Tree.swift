import IntegraTransparency
import IntegraLedger

/// The tree's part of the writer: stored nodes and heads, the verified tree a group appends to,
/// and the backfill of a ledger written before the tree existed.
extension SQLiteWriteConnection {
    /// The verified tree at `head` (see `LedgerTreeCheck`); `entriesSinceCached` are the
    /// entries the head check verified after the store's last known tree, if any.
    func verifiedTree(at head: LedgerIntegrity.ChainPoint, entriesSinceCached: [LedgerEntry]?) throws(LedgerError) -> Result<VerifiedTree, IntegrityViolation> {
        try LedgerTreeCheck.verifiedTree(
            cached: self.verified.tree, headPosition: head.position, verifier: self.signer.verifier, entriesSinceCached: entriesSinceCached,
            latestStoredHead: { () throws(LedgerError) in try self.latestTreeHead() },
            storedNodes: { (ids) throws(LedgerError) in try self.treeNodes(ids) })
    }

    /// Writes a group's nodes and signed head.
    func write(_ batch: TreeBatch) throws(LedgerError) {
        try self.write(nodes: batch.nodes)
        try self.write(batch.head)
    }

    /// Writes nodes, replacing any stored under the same id.
    func write(nodes: [MerkleNode]) throws(LedgerError) {
        for node in nodes {
            try self.execute(self.insertTreeNode, .integer(Int64(node.id.level)), .integer(Int64(bitPattern: node.id.index)), .blob(node.hash))
        }
    }


    func write(_ head: SignedTreeHead) throws(LedgerError) {
        try self.execute(
            self.insertTreeHead, .integer(Int64(bitPattern: head.treeSize)), .blob(head.rootHash), .integer(head.createdAtMs), .blob(head.note))
    }

    /// The stored head with the largest tree size.
    func latestTreeHead() throws(LedgerError) -> SignedTreeHead? {
        defer { self.selectLatestTreeHead.reset() }
        guard try self.selectLatestTreeHead.step() else { return nil }
        return try SQLiteTreeRows.head(self.selectLatestTreeHead)
    }

    /// Stored nodes by id (those missing are left out).
    func treeNodes(_ ids: [MerkleNodeID]) throws(LedgerError) -> [MerkleNodeID: [UInt8]] {
        var nodes: [MerkleNodeID: [UInt8]] = [:]
        for id in ids {
            defer { self.selectTreeNode.reset() }
            try self.selectTreeNode.bind(.integer(Int64(id.level)), .integer(Int64(bitPattern: id.index)))
            if try self.selectTreeNode.step(), let hash = self.selectTreeNode.blob(0) { nodes[id] = hash }
        }
        return nodes
    }

    /// Builds the tree over entries that have no leaf yet, one run per transaction, and signs
    /// the head once it covers every entry; `progress` is told what each run did (and where the
    /// tree stops if an entry fails its check).
    func buildTree(nowMs: Int64, progress: (TreeBackfill.Outcome) -> Void) throws(LedgerError) {
        let rows = self.backfillRows()
        while true {
            try self.execute(self.begin)
            do {
                let run = try TreeBackfill.run(rows, signer: self.signer, seal: self.seal, nowMs: nowMs)
                try self.execute(self.commit)
                progress(.built(run))
                if run.done { return }
            } catch LedgerError.integrityAlarm(let violation) {
                // An entry that fails its check gets no leaf: the tree stays short of the
                // ledger, so nothing is appended or signed until an operator has looked
                // (`verify` names the entry).
                _ = try? self.execute(self.rollback)
                progress(.stopped(violation))
                return
            } catch {
                _ = try? self.execute(self.rollback)
                if let error = error as? LedgerError { throw error }
                throw .storeUnavailable("database error while building the tree: \(error)")
            }
        }
    }

    /// One run of `TreeBackfill.Rewrite` in its own transaction (see `TreeNodeRewriting`).
    func rewriteTreeNodes(_ rewrite: inout TreeBackfill.Rewrite, nowMs: Int64) throws(LedgerError) -> TreeBackfill.Run {
        try self.execute(self.begin)
        do {
            let run = try rewrite.run(self.backfillRows(), seal: self.seal, signer: self.signer, nowMs: nowMs)
            try self.execute(self.commit)
            return run
        } catch {
            _ = try? self.execute(self.rollback)
            if let error = error as? LedgerError { throw error }
            throw .storeUnavailable("database error while rewriting the tree: \(error)")
        }
    }

    /// The rows the tree's backfill and rewrite read and write, inside the caller's transaction.
    private func backfillRows() -> TreeBackfill.Rows {
        TreeBackfill.Rows(
            headPosition: { try self.head().position },
            latestHead: { try self.latestTreeHead() },
            nodes: { try self.treeNodes($0) },
            entries: { try SQLiteEvidence.sealedEntries(on: self.connection, afterPosition: $0, limit: $1) },
            chainHash: { try self.evidence.chainHash(at: $0) },
            writeNodes: { try self.write(nodes: $0) },
            writeHead: { try self.write($0) })
    }
}

/// Reading tree rows.
enum SQLiteTreeRows {
    /// `tree_size, root_hash, created_at_ms, note`.
    static func head(_ row: SQLiteStatement) throws(LedgerError) -> SignedTreeHead {
        SignedTreeHead(
            treeSize: UInt64(bitPattern: try row.int64(0, "tree_size")), rootHash: row.blob(1) ?? [],
            createdAtMs: try row.int64(2, "created_at_ms"), note: row.blob(3) ?? [])
    }
}
