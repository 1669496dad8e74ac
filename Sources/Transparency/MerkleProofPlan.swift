/// The subtrees whose hashes make up an inclusion or consistency proof, worked out from the tree
/// sizes alone, so that a store fetches every stored node the proof needs in one query.
///
/// Each proof hash is a stored perfect node or a right-edge subtree folded from stored perfect
/// nodes; a proof reads O(log n) nodes.
public struct MerkleProofPlan: Hashable, Sendable {
    /// One per proof hash, in the order RFC 9162 lists them (nearest the leaf or old tree first).
    public let subtrees: [MerkleSubtree]
    /// Every stored node the proof reads, each once, sorted by level and index.
    public let nodeIDs: [MerkleNodeID]

    init(subtrees: [MerkleSubtree]) {
        self.subtrees = subtrees
        self.nodeIDs = Array(Set(subtrees.flatMap(\.nodeIDs))).sorted()
    }

    /// The audit path of leaf `leafIndex` in the tree of `treeSize` leaves (RFC 9162 §2.1.3.1, PATH).
    public static func inclusion(leafIndex: UInt64, treeSize: UInt64) throws(MerkleTreeError) -> MerkleProofPlan {
        MerkleProofPlan(subtrees: try Self.inclusionSubtrees(leafIndex: leafIndex, treeSize: treeSize))
    }

    /// The subtrees of leaf `leafIndex`'s audit path, from the leaf up.
    static func inclusionSubtrees(leafIndex: UInt64, treeSize: UInt64) throws(MerkleTreeError) -> [MerkleSubtree] {
        guard leafIndex < treeSize else { throw .leafIndexOutOfRange(leafIndex: leafIndex, treeSize: treeSize) }
        // PATH(m, D[start:end]) from the root down; each step at least halves the range, so the
        // loop runs at most 64 times. The RFC lists the siblings from the leaf up.
        var siblings: [MerkleSubtree] = []
        var startIndex: UInt64 = 0
        var endIndex = treeSize
        while endIndex - startIndex > 1 {
            let split = startIndex + MerkleTree.largestPowerOfTwo(below: endIndex - startIndex)
            if leafIndex < split {
                siblings.append(MerkleSubtree(startIndex: split, endIndex: endIndex))
                endIndex = split
            } else {
                siblings.append(MerkleSubtree(startIndex: startIndex, endIndex: split))
                startIndex = split
            }
        }
        return siblings.reversed()
    }

    /// The audit paths of several leaves of one tree from nodes in memory, each subtree hash
    /// worked out once however many paths share it (a group commit's receipts share most of
    /// theirs). Same result as `inclusion(leafIndex:treeSize:)` and `hashes(from:)` per leaf.
    public static func inclusionPaths(
        leafIndices: [UInt64], treeSize: UInt64, nodes: [MerkleNodeID: [UInt8]]
    ) throws(MerkleTreeError) -> [[[UInt8]]] {
        var known: [MerkleSubtree: [UInt8]] = [:]
        var paths: [[[UInt8]]] = []
        paths.reserveCapacity(leafIndices.count)
        for leafIndex in leafIndices {
            var path: [[UInt8]] = []
            for subtree in try Self.inclusionSubtrees(leafIndex: leafIndex, treeSize: treeSize) {
                if let hash = known[subtree] {
                    path.append(hash)
                } else {
                    let hash = try subtree.hash(from: nodes)
                    known[subtree] = hash
                    path.append(hash)
                }
            }
            paths.append(path)
        }
        return paths
    }

    /// The proof that the tree of `newTreeSize` leaves extends the tree of `oldTreeSize` leaves
    /// (RFC 9162 §2.1.4.1, PROOF and SUBPROOF); empty when the old tree is empty or the same size.
    public static func consistency(oldTreeSize: UInt64, newTreeSize: UInt64) throws(MerkleTreeError) -> MerkleProofPlan {
        guard oldTreeSize <= newTreeSize else { throw .treeSizesOutOfOrder(oldTreeSize: oldTreeSize, newTreeSize: newTreeSize) }
        guard oldTreeSize > 0, oldTreeSize < newTreeSize else { return MerkleProofPlan(subtrees: []) }
        // SUBPROOF(m, D[start:end], b) from the root down, at most 64 steps; the old tree ends at
        // `oldTreeSize` throughout, so "m = n" is `oldTreeSize == endIndex`.
        var hashes: [MerkleSubtree] = []
        var startIndex: UInt64 = 0
        var endIndex = newTreeSize
        var isWholeOldTree = true
        while oldTreeSize != endIndex {
            let split = startIndex + MerkleTree.largestPowerOfTwo(below: endIndex - startIndex)
            if oldTreeSize <= split {
                hashes.append(MerkleSubtree(startIndex: split, endIndex: endIndex))
                endIndex = split
            } else {
                hashes.append(MerkleSubtree(startIndex: startIndex, endIndex: split))
                startIndex = split
                isWholeOldTree = false
            }
        }
        if !isWholeOldTree {
            hashes.append(MerkleSubtree(startIndex: startIndex, endIndex: endIndex))
        }
        return MerkleProofPlan(subtrees: hashes.reversed())
    }

    /// The proof's hashes, one per subtree, from the fetched nodes (`nodeIDs` and their hashes).
    public func hashes(from nodes: [MerkleNodeID: [UInt8]]) throws(MerkleTreeError) -> [[UInt8]] {
        var hashes: [[UInt8]] = []
        hashes.reserveCapacity(self.subtrees.count)
        for subtree in self.subtrees {
            hashes.append(try subtree.hash(from: nodes))
        }
        return hashes
    }
}
