/// The signature types of c2sp.org/signed-note ("Signature types") that Integra signs and checks.
public enum NoteSignatureType: UInt8, Hashable, Sendable {
    /// Ed25519 over the note text: the log's own signature on its checkpoints.
    case ed25519 = 0x01
    /// Timestamped Ed25519 witness cosignatures (c2sp.org/tlog-cosignature).
    case timestampedEd25519Cosignature = 0x04
}

/// One signature line of a signed note, `— <key name> base64(key ID ‖ signature)`
/// (c2sp.org/signed-note, "Format" and "Signatures").
public struct NoteSignature: Hashable, Sendable {
    /// The signer's key name.
    public let keyName: String
    /// The first four bytes of the signature, big-endian: which key of that name signed.
    public let keyID: UInt32
    /// The bytes after the key ID: an Ed25519 signature, or a timestamp and one for a cosignature.
    public let signatureBytes: [UInt8]

    /// A signature line's content; the key name must be valid and the signature non-empty
    /// ("Signatures are the base64 encoding of 4+n bytes").
    public init(keyName: String, keyID: UInt32, signatureBytes: [UInt8]) throws(SignedNoteError) {
        guard NoteKeyName.isValid(keyName) else { throw .invalidKeyName }
        guard !signatureBytes.isEmpty else { throw .malformedNote("a signature has no bytes after its key ID") }
        self.keyName = keyName
        self.keyID = keyID
        self.signatureBytes = signatureBytes
    }

    /// Parses one signature line without its newline, from a note already checked to be UTF-8:
    /// em dash (U+2014), space, key name, space, canonical base64 of at least five bytes.
    init(line: ArraySlice<UInt8>) throws(SignedNoteError) {
        guard line.starts(with: Self.linePrefix) else { throw .malformedNote("a signature line does not start with an em dash and a space") }
        let rest = line.dropFirst(Self.linePrefix.count)
        guard let space = rest.firstIndex(of: UInt8(ascii: " ")) else { throw .malformedNote("a signature line has no signature") }
        guard let bytes = Base64.decode(rest[(space + 1)...]), bytes.count > 4 else {
            throw .malformedNote("a signature is not base64 of a key ID and at least one byte")
        }
        let keyID = bytes.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        try self.init(keyName: String(decoding: rest[..<space], as: UTF8.self), keyID: keyID, signatureBytes: Array(bytes.dropFirst(4)))
    }

    /// "— ": em dash (U+2014, UTF-8 E2 80 94) and a space.
    static let linePrefix: [UInt8] = [0xE2, 0x80, 0x94, 0x20]

    /// The signature line, newline included.
    var line: String {
        let keyIDBytes: [UInt8] = [UInt8(self.keyID >> 24), UInt8((self.keyID >> 16) & 0xFF), UInt8((self.keyID >> 8) & 0xFF), UInt8(self.keyID & 0xFF)]
        return "\u{2014} " + self.keyName + " " + Base64.encode(keyIDBytes + self.signatureBytes) + "\n"
    }
}

/// The rule for key names (c2sp.org/signed-note, "Format"): non-empty, no Unicode spaces, no plus.
enum NoteKeyName {
    /// Whether `name` is a valid key name; "Unicode spaces" are the White_Space characters, as
    /// Go's `unicode.IsSpace` in golang.org/x/mod/sumdb/note takes them.
    static func isValid(_ name: String) -> Bool {
        !name.isEmpty && !name.unicodeScalars.contains { $0.properties.isWhitespace || $0 == "+" || $0.value < 0x20 }
    }
}

extension NoteSignature {
    /// Whether both signatures name the same key: the same key name, byte for byte, and key ID.
    func isByTheSameKey(as other: NoteSignature) -> Bool {
        self.keyID == other.keyID && self.keyName.utf8.elementsEqual(other.keyName.utf8)
    }
}
