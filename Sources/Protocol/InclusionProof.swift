public import Crypto

/// A proof that a receipt's entry is still in the ledger: the digests of the entries after it,
/// up to a checkpoint of the chain that the server signs now. Recomputing the chain from the
/// receipt's own (signed) chain hash must arrive at the checkpoint's hash. Digests reveal
/// nothing about other customers' entries.
public struct InclusionProof: Hashable, Sendable {
    /// The receipt's position.
    public var position: UInt64
    /// SHA-256 digests of entries `position + 1 ... checkpointPosition`, 32 bytes each.
    public var digests: [UInt8]
    public var checkpointPosition: UInt64
    public var checkpointChainHash: [UInt8]
    public var checkpointCreatedAtMs: Int64
    /// Ed25519 by the server's identity key over `checkpointPayload`.
    public var checkpointSignature: [UInt8]
    /// The entry at `position` as the ledger holds it: its canonical encoding
    /// (`docs/LEDGER-INTEGRITY.md`), compared with the receipt field by field.
    public var entry: [UInt8]
    /// The chain hash of the entry before it, so the entry's own chain hash can be recomputed.
    public var previousChainHash: [UInt8]

    /// The most digests one proof carries (fits a 64 KiB frame).
    public static let maximumDigests = 1_900

    public init(
        position: UInt64, digests: [UInt8], checkpointPosition: UInt64, checkpointChainHash: [UInt8],
        checkpointCreatedAtMs: Int64, checkpointSignature: [UInt8], entry: [UInt8], previousChainHash: [UInt8]
    ) {
        self.position = position
        self.digests = digests
        self.checkpointPosition = checkpointPosition
        self.checkpointChainHash = checkpointChainHash
        self.checkpointCreatedAtMs = checkpointCreatedAtMs
        self.checkpointSignature = checkpointSignature
        self.entry = entry
        self.previousChainHash = previousChainHash
    }

    /// What the server signs for a checkpoint: "entry `position` has chain hash `chainHash`".
    public static func checkpointPayload(position: Int64, chainHash: [UInt8], createdAtMs: Int64) -> [UInt8] {
        var bytes = Array("integra/1 checkpoint".utf8)
        withUnsafeBytes(of: position.bigEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: chainHash)
        withUnsafeBytes(of: createdAtMs.bigEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Whether the entry the proof shows is the receipt's, field by field, and hashes to the
    /// receipt's signed chain hash (after the previous chain hash the proof gives).
    public func showsEntry(of receipt: TransferConfirmation) -> Bool {
        guard let entry = CanonicalEntry(encoding: self.entry), self.previousChainHash.count == 32, entry.shows(receipt) else { return false }
        var link = SHA256()
        link.update(data: self.previousChainHash)
        link.update(data: Array(SHA256.hash(data: self.entry)))
        return Array(link.finalize()) == receipt.chainHash
    }

    /// Whether the proof shows that `receipt` (already checked for its own signature) is in the
    /// ledger the server signed, as the receipt says. Positions past the ledger's Int64 range
    /// prove nothing.
    public func proves(_ receipt: TransferConfirmation, identity: Curve25519.Signing.PublicKey) -> Bool {
        guard self.showsEntry(of: receipt) else { return false }
        let (lastPosition, overflow) = self.position.addingReportingOverflow(UInt64(self.digests.count / 32))
        guard self.position == receipt.position, self.digests.count % 32 == 0,
              !overflow, self.checkpointPosition == lastPosition,
              let signedPosition = Int64(exactly: self.checkpointPosition),
              receipt.chainHash.count == 32, self.checkpointChainHash.count == 32
        else { return false }
        var hash = receipt.chainHash
        var offset = 0
        while offset < self.digests.count {
            var hasher = SHA256()
            hasher.update(data: hash)
            hasher.update(data: self.digests[offset..<(offset + 32)])
            hash = Array(hasher.finalize())
            offset += 32
        }
        guard hash == self.checkpointChainHash else { return false }
        let payload = Self.checkpointPayload(position: signedPosition, chainHash: self.checkpointChainHash, createdAtMs: self.checkpointCreatedAtMs)
        return identity.isValidSignature(self.checkpointSignature, for: payload)
    }
}
