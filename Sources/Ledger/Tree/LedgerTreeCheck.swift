public import IntegraTransparency

/// Finds the verified tree a group commit appends to, without trusting stored tree rows: the
/// store's own tree from its last commit, or, when the ledger's head moved elsewhere (another
/// instance, a restart), the stored frontier at the head's size, accepted only if it folds to
/// the root of a head the identity key signed for exactly that size (and, when this store knew
/// an earlier tree, only if the entries written since extend it to that root).
public enum LedgerTreeCheck {
    /// - Parameters:
    ///   - cached: the tree this store committed or verified last, if any.
    ///   - headPosition: the ledger's head, already checked (`LedgerIntegrity.checkHead`).
    ///   - entriesSinceCached: the entries after `cached` up to the head, as `checkHead` verified
    ///     them; nil when not known.
    ///   - latestStoredHead: the stored head with the largest tree size.
    ///   - storedNodes: stored nodes by id.
    public static func verifiedTree<Failure: Error>(
        cached: VerifiedTree?, headPosition: Int64, verifier: NoteVerifier, entriesSinceCached: [LedgerEntry]?,
        latestStoredHead: () throws(Failure) -> SignedTreeHead?,
        storedNodes: ([MerkleNodeID]) throws(Failure) -> [MerkleNodeID: [UInt8]]
    ) throws(Failure) -> Result<VerifiedTree, IntegrityViolation> {
        let treeSize = UInt64(max(0, headPosition))
        if let cached, cached.frontier.treeSize == treeSize { return .success(cached) }
        guard let stored = try latestStoredHead() else {
            guard headPosition > 0 else { return .success(Self.emptyTree) }
            return .failure(IntegrityViolation(kind: .treeMismatch, message: "no signed tree head is stored for the ledger's \(headPosition) entries"))
        }
        guard stored.treeSize == treeSize else {
            return .failure(IntegrityViolation(
                kind: .treeMismatch, message: "the latest signed tree head is for \(stored.treeSize) entries, the ledger holds \(headPosition)"))
        }
        guard stored.isSigned(by: verifier) else {
            return .failure(IntegrityViolation(kind: .treeMismatch, message: "the signed tree head for \(treeSize) entries does not carry the identity key's signature"))
        }
        let ids = MerkleFrontier.nodeIDs(treeSize: treeSize)
        guard let frontier = try? MerkleFrontier(treeSize: treeSize, nodes: try storedNodes(ids)), frontier.rootHash == stored.rootHash else {
            return .failure(IntegrityViolation(kind: .treeMismatch, message: "the stored tree's right edge at \(treeSize) entries does not fold to its signed root"))
        }
        if let cached, let entries = entriesSinceCached, cached.frontier.treeSize < treeSize,
           UInt64(entries.count) == treeSize - cached.frontier.treeSize {
            // In runs: another instance may have written any number of entries meanwhile.
            var extended: MerkleFrontier? = cached.frontier
            var start = entries.startIndex
            while start < entries.endIndex, let current = extended {
                let end = min(start + MerkleFrontier.maximumBatchLeafCount, entries.endIndex)
                extended = try? current.appending(leafHashes: entries[start..<end].map(LedgerTree.leafHash(of:))).frontier
                start = end
            }
            guard extended?.rootHash == stored.rootHash else {
                return .failure(IntegrityViolation(
                    kind: .treeMismatch, message: "the entries written since tree size \(cached.frontier.treeSize) do not extend it to the signed root at \(treeSize)"))
            }
        }
        return .success(VerifiedTree(frontier: frontier, head: stored))
    }

    /// The empty tree, before any head was signed.
    static let emptyTree = VerifiedTree(
        frontier: MerkleFrontier(),
        head: SignedTreeHead(treeSize: 0, rootHash: MerkleTree.emptyRootHash, createdAtMs: 0, note: []))
}
