import Crypto

/// The hashes of an RFC 9162 (Certificate Transparency 2.0) Merkle tree over SHA-256, which the
/// ledger's transparency log is built from.
///
/// Leaves and interior nodes hash with different one-byte prefixes (RFC 9162 §2.1.1), so no
/// interior node can pass for a leaf.
public enum MerkleTree {
    /// Bytes in every hash of the tree: one SHA-256 digest.
    public static let hashByteCount = 32

    /// The highest level a stored node can have: a tree counts its leaves in a `UInt64`, so its
    /// largest perfect subtree holds 2^63 leaves.
    public static let maximumLevel: UInt8 = 63

    /// The root of the empty tree, `SHA-256()` (RFC 9162 §2.1.1: MTH({}) = HASH()).
    public static let emptyRootHash: [UInt8] = Array(SHA256.hash(data: [UInt8]()))

    /// The most stored nodes one inclusion or consistency proof reads: every proof hash is a
    /// node or a fold of at most 64 nodes, and proofs have at most 65 hashes.
    public static let maximumProofNodeCount = 65 * 64

    private static let leafPrefix: [UInt8] = [0x00]
    private static let nodePrefix: [UInt8] = [0x01]

    /// A leaf's hash, `SHA-256(0x00 ‖ leaf bytes)` (RFC 9162 §2.1.1); for the ledger the leaf bytes
    /// are an entry's canonical encoding (`LedgerSeal.encoding(of:)`).
    public static func leafHash(_ leaf: [UInt8]) -> [UInt8] {
        var hash = SHA256()
        hash.update(data: Self.leafPrefix)
        hash.update(data: leaf)
        return Array(hash.finalize())
    }

    /// An interior node's hash, `SHA-256(0x01 ‖ left ‖ right)` (RFC 9162 §2.1.1).
    public static func nodeHash(left: [UInt8], right: [UInt8]) -> [UInt8] {
        var hash = SHA256()
        hash.update(data: Self.nodePrefix)
        hash.update(data: left)
        hash.update(data: right)
        return Array(hash.finalize())
    }

    /// The largest power of two strictly below `leafCount` (the `k` of RFC 9162 §2.1.1), which
    /// must be at least 2.
    static func largestPowerOfTwo(below leafCount: UInt64) -> UInt64 {
        1 << (63 - (leafCount - 1).leadingZeroBitCount)
    }

    /// Whether `hash` has the length of a SHA-256 digest.
    static func isWellFormed(_ hash: [UInt8]) -> Bool {
        hash.count == Self.hashByteCount
    }
}
