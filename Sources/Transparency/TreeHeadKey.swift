public import Crypto

/// The name and verifier of the log an identity key signs: the origin is derived from the public
/// key, so a client that holds only the key (`client.json`) knows the log's name too: `integra/`
/// and the first 8 bytes of SHA-256 of the public key, in lowercase hex.
public enum TreeHeadKey {
    /// The checkpoints' origin line, which is also the signing key's name.
    public static func origin(identity: Curve25519.Signing.PublicKey) -> String {
        let digest = SHA256.hash(data: identity.rawRepresentation)
        return "integra/" + digest.prefix(8).map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 2 ? hex : "0" + hex
        }.joined()
    }

    /// The note verifier for the heads `identity` signs (Ed25519, signature type 0x01).
    public static func verifier(identity: Curve25519.Signing.PublicKey) -> NoteVerifier {
        // The origin is printable ASCII without spaces or "+": always a valid key name.
        try! NoteVerifier(keyName: Self.origin(identity: identity), signatureType: .ed25519, publicKey: identity)
    }
}
