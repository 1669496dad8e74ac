/// What a witness knows about one log and decides about each checkpoint it is offered, with the
/// semantics of c2sp.org/tlog-witness `add-checkpoint`: it cosigns a checkpoint only if the log
/// signed it and it extends the last checkpoint the witness cosigned, proven by a consistency
/// proof. Pure: the caller persists `latest` (before it hands out the cosignature) and passes the
/// time in.
public struct WitnessState: Hashable, Sendable {
    /// The log's checkpoint signing key; its name is the log's origin.
    public let logVerifier: NoteVerifier
    /// The last checkpoint this witness cosigned; nil before the first.
    public private(set) var latest: TreeCheckpoint?

    public init(logVerifier: NoteVerifier, latest: TreeCheckpoint? = nil) {
        self.logVerifier = logVerifier
        self.latest = latest
    }

    /// The tree size the witness has cosigned, which a client names as `oldSize`.
    public var latestTreeSize: UInt64 { self.latest?.treeSize ?? 0 }

    /// What the witness does with an offered checkpoint.
    public enum Decision: Hashable, Sendable {
        /// Cosign `checkpoint`; `latest` has moved to it.
        case cosign(TreeCheckpoint)
        /// Refuse, and say why; `latest` is unchanged.
        case refuse(WitnessRefusal)
    }

    /// Decides on `noteBytes` (a signed note), offered as extending the tree of `oldSize` leaves
    /// the client believes this witness has cosigned, with the consistency proof from there. The
    /// checks run in the order c2sp.org/tlog-witness lists them.
    public mutating func checkpointOffered(noteBytes: [UInt8], oldSize: UInt64, consistencyProof: [[UInt8]]) -> Decision {
        guard let note = try? SignedNote(parsing: noteBytes), let text = try? TreeCheckpoint(text: note.text) else {
            return .refuse(.notSignedByTheLog)
        }
        guard text.origin.utf8.elementsEqual(self.logVerifier.keyName.utf8) else { return .refuse(.unknownLog) }
        guard let checkpoint = try? TreeCheckpoint.opening(noteBytes, logVerifier: self.logVerifier) else {
            return .refuse(.notSignedByTheLog)
        }
        guard oldSize <= checkpoint.treeSize else { return .refuse(.smallerThanOldSize) }
        guard oldSize == self.latestTreeSize else { return .refuse(.oldSizeMismatch(latestTreeSize: self.latestTreeSize)) }
        // The first checkpoint extends the empty tree: no proof, and a size-zero tree has the
        // empty tree's root.
        let oldRootHash = self.latest?.rootHash ?? MerkleTree.emptyRootHash
        let extends = MerkleProofVerifier.verifyConsistency(
            oldTreeSize: oldSize, oldRootHash: oldRootHash, newTreeSize: checkpoint.treeSize,
            newRootHash: checkpoint.rootHash, proof: consistencyProof)
        guard extends, checkpoint.treeSize > 0 || checkpoint.rootHash == MerkleTree.emptyRootHash else {
            return .refuse(.inconsistent(latest: self.latest, offered: checkpoint))
        }
        self.latest = checkpoint
        return .cosign(checkpoint)
    }
}

/// Why a witness refused a checkpoint. `raisesAlarm` marks the refusals that mean the log showed
/// two views of its history: the witness's operator must look.
public enum WitnessRefusal: Error, Hashable, Sendable {
    /// The note names another log (c2sp.org/tlog-witness: 404).
    case unknownLog
    /// The note is malformed or not signed by the log's key (403).
    case notSignedByTheLog
    /// The client's `oldSize` is not what the witness cosigned; it should retry from
    /// `latestTreeSize` (409 Conflict, with the witness's size).
    case oldSizeMismatch(latestTreeSize: UInt64)
    /// The checkpoint is smaller than the size it claims to extend (400).
    case smallerThanOldSize
    /// The consistency proof does not show that the offered tree extends the cosigned one, or
    /// the same size comes with another root: two views of the log (422, and an alarm).
    case inconsistent(latest: TreeCheckpoint?, offered: TreeCheckpoint)

    /// Whether the refusal is evidence against the log rather than a stale or broken request.
    public var raisesAlarm: Bool {
        switch self {
        case .inconsistent: true
        case .unknownLog, .notSignedByTheLog, .oldSizeMismatch, .smallerThanOldSize: false
        }
    }

    /// The HTTP status c2sp.org/tlog-witness gives the refusal.
    public var httpStatus: Int {
        switch self {
        case .unknownLog: 404
        case .notSignedByTheLog: 403
        case .oldSizeMismatch: 409
        case .smallerThanOldSize: 400
        case .inconsistent: 422
        }
    }
}
