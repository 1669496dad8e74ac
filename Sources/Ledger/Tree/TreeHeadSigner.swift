public import Crypto
public import IntegraTransparency

/// Signs the ledger's tree heads as C2SP checkpoints with the deployment's identity key: one
/// signed head per group commit, which every receipt of the group is proven against.
///
/// The origin (and key name) is derived from the identity public key (`TreeHeadKey`).
public struct TreeHeadSigner: Sendable {
    private let signer: NoteSigner
    /// The checkpoints' origin line, which is also the signing key's name.
    public let origin: String

    public init(identityKey: Curve25519.Signing.PrivateKey) {
        self.origin = TreeHeadKey.origin(identity: identityKey.publicKey)
        // The origin is printable ASCII without spaces or "+": always a valid key name.
        self.signer = try! NoteSigner(keyName: self.origin, privateKey: identityKey)
    }

    /// The verifier a client builds from the identity public key alone.
    public var verifier: NoteVerifier { self.signer.verifier }

    /// The signed head of the tree of `treeSize` leaves with `rootHash`.
    public func sign(treeSize: UInt64, rootHash: [UInt8], createdAtMs: Int64) throws(LedgerError) -> SignedTreeHead {
        do {
            let checkpoint = try TreeCheckpoint(origin: self.origin, treeSize: treeSize, rootHash: rootHash)
            return SignedTreeHead(treeSize: treeSize, rootHash: rootHash, createdAtMs: createdAtMs, note: try self.signer.sign(checkpoint).bytes)
        } catch {
            throw .storeUnavailable("the tree head could not be signed: \(error)")
        }
    }
}

extension TreeHeadSigner {
    /// The signed head of the tree whose right edge is `frontier`.
    public static func sign(_ frontier: MerkleFrontier, with signer: TreeHeadSigner, nowMs: Int64) throws(LedgerError) -> SignedTreeHead {
        try signer.sign(treeSize: frontier.treeSize, rootHash: frontier.rootHash, createdAtMs: nowMs)
    }
}
