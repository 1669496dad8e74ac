/// A tree head the server signed: the size and root of the ledger's Merkle tree after a group
/// commit, as the C2SP signed note (`note`) a client or witness checks, and when it was signed.
public struct SignedTreeHead: Hashable, Sendable {
    /// Leaves (entries) in the tree.
    public let treeSize: UInt64
    /// The RFC 9162 root hash, 32 bytes.
    public let rootHash: [UInt8]
    /// When the head was signed (milliseconds since the Unix epoch); not part of the note.
    public let createdAtMs: Int64
    /// The signed note: a c2sp.org/tlog-checkpoint text and the identity key's signature.
    public let note: [UInt8]

    public init(treeSize: UInt64, rootHash: [UInt8], createdAtMs: Int64, note: [UInt8]) {
        self.treeSize = treeSize
        self.rootHash = rootHash
        self.createdAtMs = createdAtMs
        self.note = note
    }

    /// Whether the note is signed by `verifier` and states this head's size and root.
    public func isSigned(by verifier: NoteVerifier) -> Bool {
        guard let checkpoint = try? TreeCheckpoint.opening(self.note, logVerifier: verifier) else { return false }
        return checkpoint.treeSize == self.treeSize && checkpoint.rootHash == self.rootHash
    }
}
