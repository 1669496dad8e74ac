/// Checks inclusion and consistency proofs exactly as RFC 9162 §2.1.3.2 and §2.1.4.2 describe,
/// for any input a peer may send: every failure is `false`, never a trap.
public enum MerkleProofVerifier {
    /// The most hashes an inclusion proof in a tree counted by a `UInt64` has.
    public static let maximumInclusionProofHashCount = 64
    /// The most hashes a consistency proof between trees counted by a `UInt64` has.
    public static let maximumConsistencyProofHashCount = 65

    /// Whether `proof` shows that the leaf with hash `leafHash` is leaf `leafIndex` of the tree of
    /// `treeSize` leaves whose root is `rootHash` (RFC 9162 §2.1.3.2).
    public static func verifyInclusion(leafHash: [UInt8], leafIndex: UInt64, treeSize: UInt64, proof: [[UInt8]], rootHash: [UInt8]) -> Bool {
        // Step 1: the leaf must be inside the tree.
        guard leafIndex < treeSize, proof.count <= Self.maximumInclusionProofHashCount,
              MerkleTree.isWellFormed(leafHash), MerkleTree.isWellFormed(rootHash), proof.allSatisfy(MerkleTree.isWellFormed)
        else { return false }
        // Steps 2 to 4.
        var position = Positions(first: leafIndex, second: treeSize - 1)
        var result = leafHash
        for hash in proof {
            guard let isLeftSibling = position.step() else { return false }
            result = isLeftSibling ? MerkleTree.nodeHash(left: hash, right: result) : MerkleTree.nodeHash(left: result, right: hash)
        }
        // Step 5.
        return position.second == 0 && result == rootHash
    }

    /// Whether `proof` shows that the tree of `newTreeSize` leaves with root `newRootHash` extends
    /// the tree of `oldTreeSize` leaves with root `oldRootHash` (RFC 9162 §2.1.4.2).
    ///
    /// The RFC covers `0 < old < new`. Like Go's transparency-dev/merkle, equal sizes need an
    /// empty proof and equal roots; an empty old tree needs an empty proof (and here also the
    /// empty tree's root).
    public static func verifyConsistency(oldTreeSize: UInt64, oldRootHash: [UInt8], newTreeSize: UInt64, newRootHash: [UInt8], proof: [[UInt8]]) -> Bool {
        guard oldTreeSize <= newTreeSize, proof.count <= Self.maximumConsistencyProofHashCount,
              MerkleTree.isWellFormed(oldRootHash), MerkleTree.isWellFormed(newRootHash), proof.allSatisfy(MerkleTree.isWellFormed)
        else { return false }
        if oldTreeSize == 0 { return proof.isEmpty && oldRootHash == MerkleTree.emptyRootHash }
        if oldTreeSize == newTreeSize { return proof.isEmpty && oldRootHash == newRootHash }
        // Step 1: an empty path proves nothing.
        guard !proof.isEmpty else { return false }
        // Step 2: when the old tree is a perfect subtree its root starts the path.
        let path = oldTreeSize.nonzeroBitCount == 1 ? [oldRootHash] + proof : proof
        // Steps 3 and 4.
        var position = Positions(first: oldTreeSize - 1, second: newTreeSize - 1)
        while position.first & 1 == 1 {
            position.shiftRight()
        }
        // Steps 5 and 6.
        var oldResult = path[0]
        var newResult = path[0]
        for hash in path.dropFirst() {
            guard let isLeftSibling = position.step() else { return false }
            if isLeftSibling {
                oldResult = MerkleTree.nodeHash(left: hash, right: oldResult)
                newResult = MerkleTree.nodeHash(left: hash, right: newResult)
            } else {
                newResult = MerkleTree.nodeHash(left: newResult, right: hash)
            }
        }
        // Step 7.
        return oldResult == oldRootHash && newResult == newRootHash && position.second == 0
    }

    /// The RFC's `fn` and `sn`: a node's index and the last index, at the current level.
    struct Positions {
        var first: UInt64
        var second: UInt64

        mutating func shiftRight() {
            self.first >>= 1
            self.second >>= 1
        }

        /// One step up the tree for the next path hash (steps a to c of both algorithms): nil when
        /// the path is longer than the tree is high, else whether the hash is a left sibling.
        mutating func step() -> Bool? {
            guard self.second != 0 else { return nil }
            let isLeftSibling = self.first & 1 == 1 || self.first == self.second
            if isLeftSibling, self.first & 1 == 0 {
                while self.first & 1 == 0, self.first != 0 {
                    self.shiftRight()
                }
            }
            self.shiftRight()
            return isLeftSibling
        }
    }
}
