/// The right edge of a tree: the hashes of its maximal perfect subtrees, largest first, one per
/// bit set in the tree size (at most 64).
///
/// With the frontier in hand, appending leaves needs no reads: every new perfect node is built
/// from the frontier and the new leaves. A store rebuilds it from `nodeIDs(treeSize:)`.
public struct MerkleFrontier: Hashable, Sendable {
    /// The leaves in the tree.
    public let treeSize: UInt64
    /// The hashes of the nodes `nodeIDs(treeSize:)` names, in that order.
    public let hashes: [[UInt8]]

    /// The most leaves one `appending(leafHashes:)` takes, which bounds the nodes it returns
    /// (fewer than twice as many).
    public static let maximumBatchLeafCount = 65_536

    /// The frontier of the empty tree.
    public init() {
        self.treeSize = 0
        self.hashes = []
    }

    /// A frontier from its hashes, largest subtree first; throws unless there is one 32-byte hash
    /// per bit set in `treeSize`.
    public init(treeSize: UInt64, hashes: [[UInt8]]) throws(MerkleTreeError) {
        guard hashes.count == treeSize.nonzeroBitCount else { throw .frontierMismatch(treeSize: treeSize, hashCount: hashes.count) }
        for hash in hashes where !MerkleTree.isWellFormed(hash) {
            throw .malformedHash(byteCount: hash.count)
        }
        self.treeSize = treeSize
        self.hashes = hashes
    }

    /// The frontier of the tree of `treeSize` leaves from its stored nodes, `nodeIDs(treeSize:)`.
    public init(treeSize: UInt64, nodes: [MerkleNodeID: [UInt8]]) throws(MerkleTreeError) {
        var hashes: [[UInt8]] = []
        for nodeID in Self.nodeIDs(treeSize: treeSize) {
            guard let hash = nodes[nodeID] else { throw .missingNode(nodeID) }
            hashes.append(hash)
        }
        try self.init(treeSize: treeSize, hashes: hashes)
    }

    /// The stored nodes that form the frontier of the tree of `treeSize` leaves, largest first:
    /// the same nodes its root is folded from.
    public static func nodeIDs(treeSize: UInt64) -> [MerkleNodeID] {
        MerkleSubtree.wholeTree(treeSize: treeSize).nodeIDs
    }

    /// The tree's root hash (RFC 9162 §2.1.1), folded from the frontier without reads.
    public var rootHash: [UInt8] {
        MerkleSubtree.foldFromTheRight(self.hashes)
    }

    /// Appends leaves (their leaf hashes, `MerkleTree.leafHash`) and returns every perfect node
    /// they complete, the new frontier and the new root.
    public func appending(leafHashes: [[UInt8]]) throws(MerkleTreeError) -> MerkleAppendResult {
        guard leafHashes.count <= Self.maximumBatchLeafCount else { throw .batchTooLarge(leafCount: leafHashes.count) }
        guard UInt64(leafHashes.count) <= UInt64.max - self.treeSize else { throw .treeFull }
        var frontier = self.hashes
        var nodes: [MerkleNode] = []
        nodes.reserveCapacity(2 * leafHashes.count)
        var treeSize = self.treeSize
        for leafHash in leafHashes {
            guard MerkleTree.isWellFormed(leafHash) else { throw .malformedHash(byteCount: leafHash.count) }
            var hash = leafHash
            var nodeID = MerkleNodeID.leaf(treeSize)
            nodes.append(MerkleNode(id: nodeID, hash: hash))
            // Like a binary counter's carry: each trailing one bit of the old size is a frontier
            // subtree of the same height that the new node completes (at most 63 of them).
            while nodeID.index & 1 == 1, let left = frontier.popLast() {
                hash = MerkleTree.nodeHash(left: left, right: hash)
                nodeID = MerkleNodeID(checkedLevel: nodeID.level + 1, index: nodeID.index >> 1)
                nodes.append(MerkleNode(id: nodeID, hash: hash))
            }
            frontier.append(hash)
            treeSize += 1
        }
        let newFrontier = try MerkleFrontier(treeSize: treeSize, hashes: frontier)
        return MerkleAppendResult(nodes: nodes, frontier: newFrontier)
    }
}

/// What appending leaves produced: the nodes to store, and the frontier and root after them.
public struct MerkleAppendResult: Hashable, Sendable {
    /// Every perfect node the new leaves complete, leaves included, in the order they were built
    /// (a node always after its children).
    public let nodes: [MerkleNode]
    /// The right edge of the grown tree.
    public let frontier: MerkleFrontier

    /// The grown tree's root hash.
    public var rootHash: [UInt8] { self.frontier.rootHash }
}
