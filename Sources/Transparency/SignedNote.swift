/// A C2SP signed note (c2sp.org/signed-note): a text ending in a newline, a blank line, and one
/// or more signature lines. Integra's tree heads travel as signed notes.
///
/// Parsing is strict and bounded: at most 16 KiB and 32 signature lines, valid UTF-8, no control
/// characters but newline, canonical base64.
public struct SignedNote: Hashable, Sendable {
    /// The signed text, final newline included, separating blank line excluded ("Format").
    public let text: String
    /// The signature lines, in order.
    public let signatures: [NoteSignature]

    /// The largest note Integra formats or parses, in bytes. The spec asks verifiers to bound a
    /// note's size or signature count ("Format").
    public static let maximumByteCount = 16_384
    /// The most signature lines; the spec requires accepting at least 16 ("Format").
    public static let maximumSignatureCount = 32

    /// A note from a text and its signatures; throws if the text breaks a rule or the note would
    /// exceed a limit.
    public init(text: String, signatures: [NoteSignature]) throws(SignedNoteError) {
        try Self.checkText(text)
        guard !signatures.isEmpty else { throw .malformedNote("a note has at least one signature line") }
        guard signatures.count <= Self.maximumSignatureCount else { throw .tooManySignatures }
        self.text = text
        self.signatures = signatures
        let byteCount = self.bytes.count
        guard byteCount <= Self.maximumByteCount else { throw .noteTooLarge(byteCount: byteCount) }
    }

    /// Parses a note's bytes, refusing anything c2sp.org/signed-note does not allow.
    public init(parsing bytes: [UInt8]) throws(SignedNoteError) {
        guard bytes.count <= Self.maximumByteCount else { throw .noteTooLarge(byteCount: bytes.count) }
        // "Signed notes MUST be valid UTF-8 and MUST NOT contain any ASCII control characters
        // (those below U+0020) other than newline."
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .malformedNote("a note is not valid UTF-8") }
        guard !bytes.contains(where: { $0 < 0x20 && $0 != 0x0A }) else { throw .malformedNote("a note contains a control character") }
        // "the text is separated from the signatures by the last empty line in the note."
        guard let separator = Self.lastBlankLine(in: bytes) else { throw .malformedNote("a note has no blank line before its signatures") }
        let signatureBlock = bytes[(separator + 2)...]
        guard signatureBlock.last == 0x0A else { throw .malformedNote("a note's signature lines do not end with a newline") }
        var signatures: [NoteSignature] = []
        for line in signatureBlock.dropLast().split(separator: 0x0A, omittingEmptySubsequences: false) {
            guard signatures.count < Self.maximumSignatureCount else { throw .tooManySignatures }
            signatures.append(try NoteSignature(line: line))
        }
        try self.init(text: String(decoding: bytes[...separator], as: UTF8.self), signatures: signatures)
    }

    /// The index of the first newline of the last "\n\n" in `bytes`, if any.
    private static func lastBlankLine(in bytes: [UInt8]) -> Int? {
        var index = bytes.count - 1
        while index > 0 {
            if bytes[index] == 0x0A, bytes[index - 1] == 0x0A { return index - 1 }
            index -= 1
        }
        return nil
    }

    /// The note's bytes: text, blank line, one line per signature.
    public var bytes: [UInt8] {
        Array((self.text + "\n" + self.signatures.map(\.line).joined()).utf8)
    }

    /// The same note with `signature` added last, replacing any earlier one by the same key (name
    /// and key ID), as golang.org/x/mod/sumdb/note's `Sign` does.
    public func adding(_ signature: NoteSignature) throws(SignedNoteError) -> SignedNote {
        let others = self.signatures.filter { !$0.isByTheSameKey(as: signature) }
        return try SignedNote(text: self.text, signatures: others + [signature])
    }

    /// Checks the signatures by known keys and returns those that verify.
    ///
    /// As c2sp.org/signed-note ("Signatures") and golang.org/x/mod/sumdb/note's `Open` do:
    /// signatures by unknown keys are ignored, the first signature by each known key (name and
    /// key ID) must verify or the whole note is refused, later ones by the same key are skipped,
    /// and a note with no verified signature is refused.
    public func verifiedSignatures(by verifiers: [NoteVerifier]) throws(SignedNoteError) -> [NoteSignature] {
        var known: [KeyIdentity: NoteVerifier] = [:]
        for verifier in verifiers {
            let identity = KeyIdentity(keyName: verifier.keyName, keyID: verifier.keyID)
            guard known.updateValue(verifier, forKey: identity) == nil else {
                throw .ambiguousVerifiers(keyName: verifier.keyName, keyID: verifier.keyID)
            }
        }
        var verified: [NoteSignature] = []
        var seen: Set<KeyIdentity> = []
        for signature in self.signatures {
            let identity = KeyIdentity(keyName: signature.keyName, keyID: signature.keyID)
            guard let verifier = known[identity], seen.insert(identity).inserted else { continue }
            guard verifier.isValid(signature, text: self.text) else {
                throw .invalidSignature(keyName: signature.keyName, keyID: signature.keyID)
            }
            verified.append(signature)
        }
        guard !verified.isEmpty else { throw .notSignedByKnownKey }
        return verified
    }

    /// A note text must be non-empty, end in a newline and hold no control character but newline.
    static func checkText(_ text: String) throws(SignedNoteError) {
        guard text.utf8.last == 0x0A else { throw .malformedNote("a note's text does not end with a newline") }
        guard !text.utf8.contains(where: { $0 < 0x20 && $0 != 0x0A }) else { throw .malformedNote("a note contains a control character") }
    }

    /// A key as signatures name it; names compare byte for byte, as the key ID hashes their bytes.
    private struct KeyIdentity: Hashable {
        let keyName: [UInt8]
        let keyID: UInt32

        init(keyName: String, keyID: UInt32) {
            self.keyName = Array(keyName.utf8)
            self.keyID = keyID
        }
    }
}
