public import Crypto

/// Cosigns checkpoints as a witness: timestamped Ed25519 cosignatures, signature type 0x04
/// (c2sp.org/tlog-cosignature, "Format" and "Ed25519 signed message").
public struct WitnessCosigner: Sendable {
    private let key: NoteSigningKey

    /// A cosigner named `keyName`; each cosigner needs its own key, as the signed message does
    /// not name the cosigner ("Ed25519 signed message").
    public init(keyName: String, privateKey: Curve25519.Signing.PrivateKey) throws(SignedNoteError) {
        self.key = try NoteSigningKey(keyName: keyName, signatureType: .timestampedEd25519Cosignature, privateKey: privateKey)
    }

    /// The public half (type 0x04), which log clients configure to count this witness.
    public var verifier: NoteVerifier { self.key.verifier }

    /// The cosignature line for `checkpoint` at `timestampSeconds` (POSIX seconds, at most 2^63 - 1):
    /// base64(key ID ‖ u64 timestamp ‖ Ed25519 signature).
    public func cosignature(for checkpoint: TreeCheckpoint, timestampSeconds: UInt64) throws(SignedNoteError) -> NoteSignature {
        guard timestampSeconds <= UInt64(Int64.max) else { throw .invalidTimestamp }
        let cosignature = Cosignature(timestampSeconds: timestampSeconds, ed25519Signature: [])
        return try self.key.signature(over: cosignature.signedMessage(for: checkpoint), prefix: cosignature.timestampBytes)
    }
}
