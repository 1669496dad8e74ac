/// A proof that an entry is leaf `leafIndex` of the tree `head` signed: the RFC 9162 audit path.
public struct TreeInclusion: Hashable, Sendable {
    public let head: SignedTreeHead
    public let leafIndex: UInt64
    /// The sibling hashes from the leaf up (RFC 9162 §2.1.3.1).
    public let path: [[UInt8]]

    public init(head: SignedTreeHead, leafIndex: UInt64, path: [[UInt8]]) {
        self.head = head
        self.leafIndex = leafIndex
        self.path = path
    }

    /// Whether `leaf` (an entry's canonical encoding) is this leaf of the head's tree.
    public func proves(leaf: [UInt8]) -> Bool {
        MerkleProofVerifier.verifyInclusion(
            leafHash: MerkleTree.leafHash(leaf), leafIndex: self.leafIndex, treeSize: self.head.treeSize, proof: self.path, rootHash: self.head.rootHash)
    }
}
