public import Crypto

/// A public key that checks note signatures of one signature type, and its verifier-key text
/// `<name>+<hex key ID>+<base64(type ‖ public key)>` (golang.org/x/mod/sumdb/note `NewVerifier`;
/// c2sp.org/tlog-cosignature allows the same "vkey" encoding for cosigners).
public struct NoteVerifier: Hashable, Sendable {
    /// The key's name, as its signature lines carry it.
    public let keyName: String
    /// What the key signs: note texts (0x01) or cosigned checkpoints (0x04).
    public let signatureType: NoteSignatureType
    /// The 32-byte Ed25519 public key.
    public let publicKeyBytes: [UInt8]
    /// `SHA-256(key name ‖ 0x0A ‖ type ‖ public key)[:4]`, big-endian.
    public let keyID: UInt32

    /// A verifier for `publicKey` under `keyName`.
    public init(keyName: String, signatureType: NoteSignatureType, publicKey: Curve25519.Signing.PublicKey) throws(SignedNoteError) {
        guard NoteKeyName.isValid(keyName) else { throw .invalidKeyName }
        self.keyName = keyName
        self.signatureType = signatureType
        self.publicKeyBytes = Array(publicKey.rawRepresentation)
        self.keyID = Self.keyID(keyName: keyName, signatureType: signatureType, publicKeyBytes: self.publicKeyBytes)
    }

    /// Parses a verifier key. Like Go's `NewVerifier` it takes the key ID in upper- or lowercase
    /// hex and refuses one that does not match the key; unlike it, it also takes type 0x04 keys
    /// and needs canonical base64.
    public init(verifierKey: String) throws(SignedNoteError) {
        let parts = Array(verifierKey.utf8).split(separator: UInt8(ascii: "+"), maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformedVerifierKey("a verifier key has three parts separated by \"+\"") }
        let keyName = String(decoding: parts[0], as: UTF8.self)
        guard NoteKeyName.isValid(keyName) else { throw .invalidKeyName }
        guard parts[1].count == 8, let keyIDBytes = [UInt8](hexDigits: parts[1]) else {
            throw .malformedVerifierKey("a key ID is eight hex digits")
        }
        guard let keyBytes = Base64.decode(parts[2]), keyBytes.count == 33 else {
            throw .malformedVerifierKey("a key is base64 of a type byte and a 32-byte Ed25519 public key")
        }
        guard let signatureType = NoteSignatureType(rawValue: keyBytes[0]) else { throw .malformedVerifierKey("unknown signature type") }
        guard let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: keyBytes.dropFirst()) else {
            throw .malformedVerifierKey("not an Ed25519 public key")
        }
        try self.init(keyName: keyName, signatureType: signatureType, publicKey: publicKey)
        guard keyIDBytes.reduce(UInt32(0), { $0 << 8 | UInt32($1) }) == self.keyID else {
            throw .malformedVerifierKey("the key ID does not match the key")
        }
    }

    /// The verifier-key text, key ID in lowercase hex (as Go's `fmt` "%08x" writes it).
    public var verifierKey: String {
        let hexDigits = String(self.keyID, radix: 16)
        let keyID = String(repeating: "0", count: 8 - hexDigits.count) + hexDigits
        return self.keyName + "+" + keyID + "+" + Base64.encode([self.signatureType.rawValue] + self.publicKeyBytes)
    }

    /// A key ID as c2sp.org/signed-note recommends ("Signatures") and tlog-cosignature requires:
    /// the first four bytes, big-endian, of `SHA-256(key name ‖ 0x0A ‖ type ‖ public key)`.
    public static func keyID(keyName: String, signatureType: NoteSignatureType, publicKeyBytes: [UInt8]) -> UInt32 {
        var hash = SHA256()
        hash.update(data: Array(keyName.utf8) + [0x0A, signatureType.rawValue])
        hash.update(data: publicKeyBytes)
        return hash.finalize().prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    /// Whether `signature` is this key's valid signature of the note `text`; the caller has matched
    /// key name and key ID.
    public func isValid(_ signature: NoteSignature, text: String) -> Bool {
        guard let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: self.publicKeyBytes) else { return false }
        switch self.signatureType {
        case .ed25519:
            // c2sp.org/signed-note, "Ed25519 signatures": RFC 8032 over the note text.
            return signature.signatureBytes.count == Cosignature.ed25519SignatureByteCount
                && publicKey.isValidSignature(signature.signatureBytes, for: Array(text.utf8))
        case .timestampedEd25519Cosignature:
            guard let cosignature = Cosignature(signatureBytes: signature.signatureBytes),
                  let checkpoint = try? TreeCheckpoint(text: text)
            else { return false }
            return publicKey.isValidSignature(cosignature.ed25519Signature, for: cosignature.signedMessage(for: checkpoint))
        }
    }
}

extension Array where Element == UInt8 {
    /// Bytes from upper- or lowercase hex digits, two per byte; nil for anything else.
    init?(hexDigits: ArraySlice<UInt8>) {
        guard hexDigits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in hexDigits {
            let value: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        self = bytes
    }
}
