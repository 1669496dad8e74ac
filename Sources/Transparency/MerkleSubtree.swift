/// The leaves `[startIndex, endIndex)` of a tree, as RFC 9162's recursion (§2.1.1) splits it: a
/// perfect subtree, or the left-aligned start of a tree's right edge.
///
/// `startIndex` is a multiple of the smallest power of two that is at least the leaf count, so
/// the subtree is covered by at most 64 stored perfect nodes, one per bit set in the leaf count:
/// its hash needs O(log n) reads and no leaf.
public struct MerkleSubtree: Hashable, Sendable {
    /// The first leaf.
    public let startIndex: UInt64
    /// One past the last leaf.
    public let endIndex: UInt64

    /// For the plans, which only build ranges of the recursion.
    init(startIndex: UInt64, endIndex: UInt64) {
        self.startIndex = startIndex
        self.endIndex = endIndex
    }

    /// The whole tree of `treeSize` leaves: its hash is the tree's root (RFC 9162 §2.1.1).
    public static func wholeTree(treeSize: UInt64) -> MerkleSubtree {
        MerkleSubtree(startIndex: 0, endIndex: treeSize)
    }

    /// How many leaves it covers.
    public var leafCount: UInt64 { self.endIndex - self.startIndex }

    /// The stored perfect nodes that cover it, left to right (largest first).
    public var nodeIDs: [MerkleNodeID] {
        var nodeIDs: [MerkleNodeID] = []
        var position = self.startIndex
        let leafCount = self.leafCount
        for level in stride(from: Int(MerkleTree.maximumLevel), through: 0, by: -1) where leafCount & (1 << UInt64(level)) != 0 {
            nodeIDs.append(MerkleNodeID(checkedLevel: UInt8(level), index: position >> UInt64(level)))
            position += 1 << UInt64(level)
        }
        return nodeIDs
    }

    /// Its hash: the covering nodes folded from the right, `H(n1, H(n2, ... H(nk-1, nk)))`, which
    /// is what MTH gives for this range; the empty tree hashes to `MerkleTree.emptyRootHash`.
    public func hash(from nodes: [MerkleNodeID: [UInt8]]) throws(MerkleTreeError) -> [UInt8] {
        var hashes: [[UInt8]] = []
        for nodeID in self.nodeIDs {
            guard let hash = nodes[nodeID] else { throw .missingNode(nodeID) }
            guard MerkleTree.isWellFormed(hash) else { throw .malformedHash(byteCount: hash.count) }
            hashes.append(hash)
        }
        return Self.foldFromTheRight(hashes)
    }

    /// Folds perfect-subtree hashes, largest (leftmost) first, into the hash of the range they cover.
    static func foldFromTheRight(_ hashes: [[UInt8]]) -> [UInt8] {
        guard var result = hashes.last else { return MerkleTree.emptyRootHash }
        for hash in hashes.dropLast().reversed() {
            result = MerkleTree.nodeHash(left: hash, right: result)
        }
        return result
    }
}
