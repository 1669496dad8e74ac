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

    /// The most digests one proof carries (fits a 64 KiB frame).
    public static let maximumDigests = 1_900

    public init(position: UInt64, digests: [UInt8], checkpointPosition: UInt64, checkpointChainHash: [UInt8], checkpointCreatedAtMs: Int64, checkpointSignature: [UInt8]) {
        self.position = position
        self.digests = digests
        self.checkpointPosition = checkpointPosition
        self.checkpointChainHash = checkpointChainHash
        self.checkpointCreatedAtMs = checkpointCreatedAtMs
        self.checkpointSignature = checkpointSignature
    }

    /// What the server signs for a checkpoint: "entry `position` has chain hash `chainHash`".
    public static func checkpointPayload(position: Int64, chainHash: [UInt8], createdAtMs: Int64) -> [UInt8] {
        var bytes = Array("integra/1 checkpoint".utf8)
        withUnsafeBytes(of: position.bigEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: chainHash)
        withUnsafeBytes(of: createdAtMs.bigEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Whether the proof shows that `receipt` (already checked for its own signature) is in the
    /// ledger the server signed. Positions past the ledger's Int64 range prove nothing.
    public func proves(_ receipt: TransferConfirmation, identity: Curve25519.Signing.PublicKey) -> Bool {
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
