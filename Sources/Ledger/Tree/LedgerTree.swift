public import IntegraTransparency

/// The ledger as an RFC 9162 Merkle tree: leaf `i` is the canonical encoding of the entry at
/// position `i + 1` (`LedgerSeal.encoding(of:)`). Pure: the stores write what `append` returns
/// in the transaction that writes the entries.
public enum LedgerTree {
    /// The leaf hash of an entry, `SHA-256(0x00 ‖ canonical encoding)`.
    public static func leafHash(of entry: LedgerEntry) -> [UInt8] {
        MerkleTree.leafHash(LedgerSeal.encoding(of: entry))
    }

    /// The leaf index of the entry at `position` (positions start at 1).
    public static func leafIndex(ofPosition position: Int64) -> UInt64 {
        precondition(position >= 1, "ledger positions start at 1")
        return UInt64(position - 1)
    }

    /// Appends a group's new entries (consecutive, right after the frontier's last leaf) and
    /// signs the grown tree's head.
    public static func append(
        _ entries: [LedgerEntry], to frontier: MerkleFrontier, signer: TreeHeadSigner, nowMs: Int64
    ) throws(LedgerError) -> TreeBatch {
        for (offset, entry) in entries.enumerated() {
            precondition(entry.position >= 1 && UInt64(entry.position) == frontier.treeSize + UInt64(offset) + 1, "entries extend the tree in order")
        }
        let appended: MerkleAppendResult
        do {
            appended = try frontier.appending(leafHashes: entries.map(Self.leafHash(of:)))
        } catch {
            throw .storeUnavailable("the ledger's tree cannot grow: \(error)")
        }
        let head = try signer.sign(treeSize: appended.frontier.treeSize, rootHash: appended.rootHash, createdAtMs: nowMs)
        var known: [MerkleNodeID: [UInt8]] = [:]
        for (id, hash) in zip(MerkleFrontier.nodeIDs(treeSize: frontier.treeSize), frontier.hashes) { known[id] = hash }
        for node in appended.nodes { known[node.id] = node.hash }
        return TreeBatch(nodes: appended.nodes, frontier: appended.frontier, head: head, known: known, firstLeafIndex: frontier.treeSize)
    }
}

/// What one group commit adds to the tree: the nodes to store, the new frontier, the signed
/// head, and the inclusion proof of each new leaf in that head (from memory, no reads).
public struct TreeBatch: Sendable {
    /// Every perfect node the group's leaves complete, leaves included.
    public let nodes: [MerkleNode]
    /// The right edge after the group.
    public let frontier: MerkleFrontier
    /// The signed head of the tree after the group.
    public let head: SignedTreeHead
    /// The old frontier's nodes and the new nodes: every node an inclusion proof of a new leaf
    /// in `head` reads (its left siblings are old frontier nodes or new nodes; its right ones
    /// are made of new nodes).
    private let known: [MerkleNodeID: [UInt8]]
    /// The leaf index of the group's first entry (the tree's size before the group).
    public let firstLeafIndex: UInt64

    init(nodes: [MerkleNode], frontier: MerkleFrontier, head: SignedTreeHead, known: [MerkleNodeID: [UInt8]], firstLeafIndex: UInt64) {
        self.firstLeafIndex = firstLeafIndex
        self.nodes = nodes
        self.frontier = frontier
        self.head = head
        self.known = known
    }

    /// The inclusion proof of the entry at `position`, one of the group's, in `head`.
    public func inclusionProof(position: Int64) -> TreeInclusion {
        self.inclusionProofs(positions: [position])[0]
    }

    /// The inclusion proofs of entries of the group, in `head`, in the order of `positions`;
    /// the subtree hashes their paths share are worked out once.
    public func inclusionProofs(positions: [Int64]) -> [TreeInclusion] {
        let leafIndices = positions.map(LedgerTree.leafIndex(ofPosition:))
        // The paths and the nodes come from the same sizes: a missing node is a programmer error.
        let paths = try! MerkleProofPlan.inclusionPaths(leafIndices: leafIndices, treeSize: self.head.treeSize, nodes: self.known)
        return zip(leafIndices, paths).map { TreeInclusion(head: self.head, leafIndex: $0, path: $1) }
    }
}

extension LedgerTree {
    /// The inclusion proof of the entry `entry` in `head`, from stored nodes, checked against
    /// the head's signed root before it is returned: nil when the stored nodes don't prove it
    /// (missing or changed rows), so nothing unproven is handed out as a proof.
    public static func storedInclusion<Failure: Error>(
        of entry: LedgerEntry, in head: SignedTreeHead, nodes: ([MerkleNodeID]) throws(Failure) -> [MerkleNodeID: [UInt8]]
    ) throws(Failure) -> TreeInclusion? {
        let leafIndex = Self.leafIndex(ofPosition: entry.position)
        guard let plan = try? MerkleProofPlan.inclusion(leafIndex: leafIndex, treeSize: head.treeSize) else { return nil }
        let stored = try nodes(plan.nodeIDs)
        guard let path = try? plan.hashes(from: stored) else { return nil }
        let inclusion = TreeInclusion(head: head, leafIndex: leafIndex, path: path)
        return inclusion.proves(leaf: LedgerSeal.encoding(of: entry)) ? inclusion : nil
    }

    /// Gives every transfer outcome of a group its inclusion proof: the group's new entries in
    /// the head signed for the group (from memory), a retried earlier entry in the latest head
    /// (from stored nodes, checked; left without a proof if they don't prove it).
    public static func proving<Failure: Error>(
        _ outcomes: [WriteOutcome], batch: TreeBatch?, latest: SignedTreeHead,
        nodes: ([MerkleNodeID]) throws(Failure) -> [MerkleNodeID: [UInt8]]
    ) throws(Failure) -> [WriteOutcome] {
        var proven = outcomes
        var fromBatch: [(index: Int, receipt: TransferReceipt)] = []
        for index in proven.indices {
            guard case .transferred(var receipt) = proven[index] else { continue }
            let head = batch?.head ?? latest
            guard receipt.entry.position >= 1, UInt64(receipt.entry.position) <= head.treeSize else { continue }
            if let batch, LedgerTree.leafIndex(ofPosition: receipt.entry.position) >= batch.firstLeafIndex {
                fromBatch.append((index, receipt))
            } else {
                receipt.inclusion = try Self.storedInclusion(of: receipt.entry, in: head, nodes: nodes)
                proven[index] = .transferred(receipt)
            }
        }
        if let batch, !fromBatch.isEmpty {
            let proofs = batch.inclusionProofs(positions: fromBatch.map(\.receipt.entry.position))
            for (item, proof) in zip(fromBatch, proofs) {
                var receipt = item.receipt
                receipt.inclusion = proof
                proven[item.index] = .transferred(receipt)
            }
        }
        return proven
    }
}
