/// A signed tree head's body in c2sp.org/tlog-checkpoint form ("Note text"): the origin, the tree
/// size in decimal, the base64 root hash, then optional extension lines, each ending in a newline.
public struct TreeCheckpoint: Hashable, Sendable {
    /// Identifies the log; Integra signs with a key named like the origin ("Signatures": the key
    /// name SHOULD match the origin line).
    public let origin: String
    /// The number of leaves in the tree.
    public let treeSize: UInt64
    /// The RFC 9162 root hash of the tree of `treeSize` leaves (32 bytes).
    public let rootHash: [UInt8]
    /// Opaque, non-empty lines after the root hash (NOT RECOMMENDED by the spec; Integra writes none).
    public let extensionLines: [String]

    /// A checkpoint; throws if a line would be empty, hold a control character, or the text
    /// would not fit in a note.
    public init(origin: String, treeSize: UInt64, rootHash: [UInt8], extensionLines: [String] = []) throws(SignedNoteError) {
        guard !origin.isEmpty else { throw .malformedCheckpoint("the origin is empty") }
        guard MerkleTree.isWellFormed(rootHash) else { throw .malformedCheckpoint("the root hash is not 32 bytes") }
        guard extensionLines.allSatisfy({ !$0.isEmpty }) else { throw .malformedCheckpoint("an extension line is empty") }
        for line in [origin] + extensionLines where line.utf8.contains(where: { $0 < 0x20 }) {
            throw .malformedCheckpoint("a line contains a control character")
        }
        self.origin = origin
        self.treeSize = treeSize
        self.rootHash = rootHash
        self.extensionLines = extensionLines
        guard self.text.utf8.count <= SignedNote.maximumByteCount else { throw .noteTooLarge(byteCount: self.text.utf8.count) }
    }

    /// Parses a checkpoint's note text strictly: a non-empty origin, a decimal size without
    /// leading zeros that fits a `UInt64`, canonical base64 of a 32-byte hash, non-empty
    /// extension lines.
    public init(text: String) throws(SignedNoteError) {
        let bytes = Array(text.utf8)
        guard bytes.count <= SignedNote.maximumByteCount else { throw .noteTooLarge(byteCount: bytes.count) }
        guard bytes.last == 0x0A else { throw .malformedCheckpoint("the text does not end with a newline") }
        let lines = bytes.dropLast().split(separator: 0x0A, omittingEmptySubsequences: false)
        guard lines.count >= 3 else { throw .malformedCheckpoint("a checkpoint has at least three lines") }
        guard let treeSize = Self.decimal(lines[1]) else {
            throw .malformedCheckpoint("the tree size is not a decimal number without leading zeros below 2^64")
        }
        guard let rootHash = Base64.decode(lines[2]) else { throw .malformedCheckpoint("the root hash is not canonical base64") }
        try self.init(
            origin: String(decoding: lines[0], as: UTF8.self), treeSize: treeSize, rootHash: rootHash,
            extensionLines: lines.dropFirst(3).map { String(decoding: $0, as: UTF8.self) })
    }

    /// Opens the log's signed checkpoint: the note must carry a valid signature by `logVerifier`
    /// (other signatures, such as witness cosignatures, are ignored) and its origin must be the
    /// log's key name.
    public static func opening(_ noteBytes: [UInt8], logVerifier: NoteVerifier) throws(SignedNoteError) -> TreeCheckpoint {
        switch logVerifier.signatureType {
        case .ed25519: break
        case .timestampedEd25519Cosignature: throw .malformedVerifierKey("a log signs its checkpoints with signature type 0x01")
        }
        let note = try SignedNote(parsing: noteBytes)
        _ = try note.verifiedSignatures(by: [logVerifier])
        let checkpoint = try TreeCheckpoint(text: note.text)
        guard checkpoint.origin.utf8.elementsEqual(logVerifier.keyName.utf8) else {
            throw .malformedCheckpoint("the origin is not the log's key name")
        }
        return checkpoint
    }

    /// The note text: every line followed by a newline.
    public var text: String {
        ([self.origin, String(self.treeSize), Base64.encode(self.rootHash)] + self.extensionLines).map { $0 + "\n" }.joined()
    }

    /// Parses the tree size line: "the ASCII decimal representation ... with no leading zeroes
    /// (unless the tree is empty, in which case the tree size is `0`)".
    private static func decimal(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 20, digits.first != UInt8(ascii: "0") || digits.count == 1 else { return nil }
        var value: UInt64 = 0
        for digit in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
            let (shifted, overflowed) = value.multipliedReportingOverflow(by: 10)
            let (sum, carried) = shifted.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
            guard !overflowed, !carried else { return nil }
            value = sum
        }
        return value
    }
}
