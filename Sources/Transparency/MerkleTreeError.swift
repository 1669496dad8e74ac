/// Why a tree operation could not be done: arguments that name no subtree of the tree, or stored
/// nodes that are missing or damaged.
public enum MerkleTreeError: Error, Hashable, Sendable {
    /// Inclusion proofs exist only for leaves inside the tree.
    case leafIndexOutOfRange(leafIndex: UInt64, treeSize: UInt64)
    /// Consistency proofs go from a smaller (or equal) tree to a larger one.
    case treeSizesOutOfOrder(oldTreeSize: UInt64, newTreeSize: UInt64)
    /// The fetched nodes lack one the plan needs.
    case missingNode(MerkleNodeID)
    /// A node or leaf hash is not 32 bytes long.
    case malformedHash(byteCount: Int)
    /// A frontier must hold one hash for each bit set in its tree size.
    case frontierMismatch(treeSize: UInt64, hashCount: Int)
    /// One append takes at most `MerkleFrontier.maximumBatchLeafCount` leaves.
    case batchTooLarge(leafCount: Int)
    /// The tree already holds as many leaves as a `UInt64` counts.
    case treeFull
}
