/// A cosignature's bytes after the key ID, the `timestamped_signature` of c2sp.org/tlog-cosignature:
/// a big-endian u64 timestamp, then a 64-byte Ed25519 signature.
struct Cosignature {
    static let ed25519SignatureByteCount = 64

    let timestampSeconds: UInt64
    let ed25519Signature: [UInt8]

    init(timestampSeconds: UInt64, ed25519Signature: [UInt8]) {
        self.timestampSeconds = timestampSeconds
        self.ed25519Signature = ed25519Signature
    }

    /// Splits a signature; nil unless it is 72 bytes with a timestamp of at most 2^63 - 1.
    init?(signatureBytes: [UInt8]) {
        guard signatureBytes.count == 8 + Self.ed25519SignatureByteCount else { return nil }
        let timestampSeconds = signatureBytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard timestampSeconds <= UInt64(Int64.max) else { return nil }
        self.init(timestampSeconds: timestampSeconds, ed25519Signature: Array(signatureBytes.dropFirst(8)))
    }

    var timestampBytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: self.timestampSeconds >> (56 - 8 * UInt64($0))) }
    }

    /// "cosignature/v1\n", "time <decimal timestamp>\n", then the checkpoint's whole note text.
    func signedMessage(for checkpoint: TreeCheckpoint) -> [UInt8] {
        Array("cosignature/v1\ntime \(self.timestampSeconds)\n\(checkpoint.text)".utf8)
    }
}
