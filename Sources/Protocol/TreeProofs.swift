public import Crypto
public import IntegraTransparency

/// The server's answer to `tree_proof`: its current signed tree head (with any witness
/// cosignatures), and on request the inclusion proof of one of the customer's entries in that
/// head and the consistency proof from a tree size the client saw before.
public struct TreeProofs: Hashable, Sendable {
    /// The current head: a C2SP signed note (identity-key signature, then cosignatures).
    public var treeHead: [UInt8]
    /// The entry asked for, its canonical encoding; empty when none was asked for.
    public var entry: [UInt8]
    /// Its RFC 9162 audit path in `treeHead`, from the leaf up.
    public var inclusionPath: [[UInt8]]
    /// The size the consistency proof starts from (as asked), or 0 with no proof.
    public var fromTreeSize: UInt64
    /// The RFC 9162 consistency proof from `fromTreeSize` to the head's size.
    public var consistencyPath: [[UInt8]]

    public init(treeHead: [UInt8], entry: [UInt8] = [], inclusionPath: [[UInt8]] = [], fromTreeSize: UInt64 = 0, consistencyPath: [[UInt8]] = []) {
        self.treeHead = treeHead
        self.entry = entry
        self.inclusionPath = inclusionPath
        self.fromTreeSize = fromTreeSize
        self.consistencyPath = consistencyPath
    }

    /// The head, if the identity key signed it.
    public func verifiedHead(identity: Curve25519.Signing.PublicKey) -> TreeCheckpoint? {
        try? TreeCheckpoint.opening(self.treeHead, logVerifier: TreeHeadKey.verifier(identity: identity))
    }

    /// Whether `entry` is leaf `position - 1` of `head` by the inclusion path.
    public func provesEntry(at position: UInt64, in head: TreeCheckpoint) -> Bool {
        guard position >= 1, !self.entry.isEmpty else { return false }
        return MerkleProofVerifier.verifyInclusion(
            leafHash: MerkleTree.leafHash(self.entry), leafIndex: position - 1, treeSize: head.treeSize, proof: self.inclusionPath, rootHash: head.rootHash)
    }

    /// Whether `head` extends `earlier` (a head the client verified before): the same tree, or
    /// a larger one that the consistency proof shows starts with it.
    public func proves(_ head: TreeCheckpoint, extends earlier: TreeCheckpoint) -> Bool {
        guard head.treeSize >= earlier.treeSize else { return false }
        guard head.treeSize > earlier.treeSize else { return head.rootHash == earlier.rootHash }
        return self.fromTreeSize == earlier.treeSize && MerkleProofVerifier.verifyConsistency(
            oldTreeSize: earlier.treeSize, oldRootHash: earlier.rootHash, newTreeSize: head.treeSize, newRootHash: head.rootHash, proof: self.consistencyPath)
    }

    /// How many of `witnesses` cosigned the head (each counted once).
    public func cosignatureCount(by witnesses: [NoteVerifier]) -> Int {
        guard !witnesses.isEmpty, let note = try? SignedNote(parsing: self.treeHead),
              let valid = try? note.verifiedSignatures(by: witnesses)
        else { return 0 }
        return Set(valid.map { "\($0.keyName)+\($0.keyID)" }).count
    }
}
