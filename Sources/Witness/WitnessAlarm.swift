import IntegraTransparency

/// The evidence a witness keeps when the log offered a checkpoint that does not extend the one
/// the witness cosigned: both signed notes, the sizes and roots, the proof that failed. One JSON
/// object per line of `alarms.jsonl`; the notes carry the log's signatures, so anyone can check
/// them with the log's key.
public struct WitnessAlarm: Codable, Hashable, Sendable {
    /// When the witness refused the checkpoint, POSIX seconds.
    public let refusedAtSeconds: UInt64
    /// The log's origin.
    public let origin: String
    /// The size the request claimed to extend.
    public let oldSize: UInt64
    /// The checkpoint the witness had cosigned (nil before the first): size and base64 root.
    public let cosignedTreeSize: UInt64?
    public let cosignedRootHash: String?
    /// The checkpoint refused: size and base64 root.
    public let offeredTreeSize: UInt64
    public let offeredRootHash: String
    /// The consistency proof sent with it, base64 hashes.
    public let consistencyProof: [String]
    /// The cosigned checkpoint's note (the log's signature and the witness's cosignature).
    public let cosignedNote: String?
    /// The refused checkpoint's note, as the log signed and sent it.
    public let offeredNote: String

    /// The evidence of refusing `offered`, sent as extending `oldSize`, while `cosigned` was the
    /// latest cosigned checkpoint.
    init(refusedAtSeconds: UInt64, oldSize: UInt64, cosigned: TreeCheckpoint?, offered: TreeCheckpoint, consistencyProof: [[UInt8]], cosignedNote: String?, offeredNote: String) {
        self.refusedAtSeconds = refusedAtSeconds
        self.origin = offered.origin
        self.oldSize = oldSize
        self.cosignedTreeSize = cosigned?.treeSize
        self.cosignedRootHash = cosigned.map { CanonicalBase64.encode($0.rootHash) }
        self.offeredTreeSize = offered.treeSize
        self.offeredRootHash = CanonicalBase64.encode(offered.rootHash)
        self.consistencyProof = consistencyProof.map(CanonicalBase64.encode)
        self.cosignedNote = cosignedNote
        self.offeredNote = offeredNote
    }

    /// One line for logs and `integra-witness status`.
    public var summary: String {
        let cosigned = self.cosignedTreeSize.map { "size \($0) root \(self.cosignedRootHash ?? "?")" } ?? "nothing yet"
        return "\(self.origin): offered size \(self.offeredTreeSize) root \(self.offeredRootHash) as extending size \(self.oldSize), "
            + "which does not extend the cosigned \(cosigned)"
    }
}
