public import Crypto

/// Signs note texts with the log's Ed25519 key (signature type 0x01): how the server signs its
/// tree heads as C2SP checkpoints.
public struct NoteSigner: Sendable {
    private let key: NoteSigningKey

    /// A signer for `keyName`, which should be the checkpoints' origin (c2sp.org/tlog-checkpoint,
    /// "Signatures").
    public init(keyName: String, privateKey: Curve25519.Signing.PrivateKey) throws(SignedNoteError) {
        self.key = try NoteSigningKey(keyName: keyName, signatureType: .ed25519, privateKey: privateKey)
    }

    /// The public half, which readers pin as a verifier key.
    public var verifier: NoteVerifier { self.key.verifier }

    /// The signature line for a note text (c2sp.org/signed-note, "Ed25519 signatures": RFC 8032
    /// over the text, final newline included).
    public func signature(forText text: String) throws(SignedNoteError) -> NoteSignature {
        try SignedNote.checkText(text)
        return try self.key.signature(over: Array(text.utf8), prefix: [])
    }

    /// The checkpoint as a signed note carrying this key's signature.
    public func sign(_ checkpoint: TreeCheckpoint) throws(SignedNoteError) -> SignedNote {
        try SignedNote(text: checkpoint.text, signatures: [self.signature(forText: checkpoint.text)])
    }
}

/// An Ed25519 private key with the name and signature type its signatures carry.
struct NoteSigningKey: Sendable {
    private let privateKey: Curve25519.Signing.PrivateKey
    let verifier: NoteVerifier

    init(keyName: String, signatureType: NoteSignatureType, privateKey: Curve25519.Signing.PrivateKey) throws(SignedNoteError) {
        self.privateKey = privateKey
        self.verifier = try NoteVerifier(keyName: keyName, signatureType: signatureType, publicKey: privateKey.publicKey)
    }

    /// The signature line whose bytes after the key ID are `prefix ‖ Ed25519(message)`.
    func signature(over message: [UInt8], prefix: [UInt8]) throws(SignedNoteError) -> NoteSignature {
        guard let signature = try? self.privateKey.signature(for: message) else { throw .signingFailed }
        return try NoteSignature(keyName: self.verifier.keyName, keyID: self.verifier.keyID, signatureBytes: prefix + Array(signature))
    }
}
