/// Why a signed note, checkpoint, key or signature was refused. The cases say what was wrong
/// and never echo the input, so they are safe to log or show.
public enum SignedNoteError: Error, Hashable, Sendable {
    /// A note is at most `SignedNote.maximumByteCount` bytes.
    case noteTooLarge(byteCount: Int)
    /// A note has at most `SignedNote.maximumSignatureCount` signature lines.
    case tooManySignatures
    /// The note breaks a rule of c2sp.org/signed-note; the text names the rule.
    case malformedNote(String)
    /// Key names are non-empty and contain neither Unicode spaces nor "+".
    case invalidKeyName
    /// A verifier key must be `<name>+<8 hex digits>+<base64(type ‖ 32-byte key)>` with a
    /// matching key ID and a known signature type.
    case malformedVerifierKey(String)
    /// The text breaks a rule of c2sp.org/tlog-checkpoint; the text names the rule.
    case malformedCheckpoint(String)
    /// A signature by a known key does not verify: the whole note is refused.
    case invalidSignature(keyName: String, keyID: UInt32)
    /// No signature by a known key is on the note.
    case notSignedByKnownKey
    /// Two verifiers share a key name and key ID, so a signature could not be attributed.
    case ambiguousVerifiers(keyName: String, keyID: UInt32)
    /// Cosignature timestamps are POSIX seconds of at most 2^63 - 1.
    case invalidTimestamp
    /// The signing key failed to sign.
    case signingFailed
}
