import IntegraTransparency
import Logging

/// One log the witness witnesses: its `WitnessState`, and the only place that moves it. An
/// actor, so that checking the old size, recording the new checkpoint and answering happen for
/// one request at a time (c2sp.org/tlog-witness: otherwise two requests from the same old size
/// could both be cosigned and the record roll back). The record is written and synced on the
/// actor, blocking its thread for the length of an fsync: a log pushes a checkpoint every few
/// seconds, and nothing else waits on that log meanwhile.
actor WitnessedLog {
    private var state: WitnessState
    private let cosigner: WitnessCosigner
    private let store: WitnessStore
    private let logger: Logger
    /// The refused checkpoints recorded as alarms since the start, so that a log repeating one
    /// does not grow `alarms.jsonl` without bound.
    private var recordedAlarms: Set<TreeCheckpoint> = []

    /// The most distinct alarms recorded per log and run; later ones are only logged.
    static let maximumRecordedAlarms = 1_024

    init(state: WitnessState, cosigner: WitnessCosigner, store: WitnessStore, logger: Logger) {
        self.state = state
        self.cosigner = cosigner
        self.store = store
        self.logger = logger
    }

    /// Decides on `request`; a cosignature leaves only after the checkpoint it cosigns is recorded.
    func offer(_ request: WitnessRequest, nowSeconds: UInt64) -> WitnessResponse {
        var next = self.state
        let decision = next.checkpointOffered(noteBytes: request.noteBytes, oldSize: request.oldSize, consistencyProof: request.consistencyProof)
        switch decision {
        case .cosign(let checkpoint):
            do {
                let cosignature = try self.cosigner.cosignature(for: checkpoint, timestampSeconds: nowSeconds)
                // The state accepted the note, so it parses and carries a valid signature by the log.
                let note = try SignedNote(parsing: request.noteBytes)
                let logSignatures = try note.verifiedSignatures(by: [self.state.logVerifier])
                try self.store.recordCosigned(try SignedNote(text: note.text, signatures: logSignatures + [cosignature]), origin: checkpoint.origin)
                self.state = next
                return .cosigned(cosignature)
            } catch {
                self.logger.error("could not record a cosigned checkpoint; refused it", metadata: [
                    "origin": "\(checkpoint.origin)", "size": "\(checkpoint.treeSize)", "error": "\(error)",
                ])
                return .notRecorded
            }
        case .refuse(let refusal):
            if case .inconsistent(let latest, let offered) = refusal {
                self.raiseAlarm(request: request, latest: latest, offered: offered, nowSeconds: nowSeconds)
            }
            return .refused(refusal)
        }
    }

    /// Logs both heads at critical and appends the evidence to `alarms.jsonl`.
    private func raiseAlarm(request: WitnessRequest, latest: TreeCheckpoint?, offered: TreeCheckpoint, nowSeconds: UInt64) {
        let cosignedNote = latest == nil ? nil : try? self.store.latestNoteText(origin: offered.origin)
        let alarm = WitnessAlarm(
            refusedAtSeconds: nowSeconds, oldSize: request.oldSize, cosigned: latest, offered: offered,
            consistencyProof: request.consistencyProof, cosignedNote: cosignedNote,
            offeredNote: String(decoding: request.noteBytes, as: UTF8.self))
        self.logger.critical("ALARM: the log signed a checkpoint that does not extend the one this witness cosigned; refused it", metadata: [
            "origin": "\(offered.origin)", "old_size": "\(request.oldSize)",
            "cosigned_size": "\(alarm.cosignedTreeSize.map(String.init) ?? "none")", "cosigned_root": "\(alarm.cosignedRootHash ?? "none")",
            "offered_size": "\(alarm.offeredTreeSize)", "offered_root": "\(alarm.offeredRootHash)",
        ])
        guard !self.recordedAlarms.contains(offered) else { return }
        guard self.recordedAlarms.count < Self.maximumRecordedAlarms else {
            self.logger.critical("not recording more alarms for this log until the witness restarts", metadata: ["origin": "\(offered.origin)"])
            return
        }
        do {
            try self.store.recordAlarm(alarm)
            self.recordedAlarms.insert(offered)
        } catch {
            self.logger.critical("could not record the alarm's evidence", metadata: ["origin": "\(offered.origin)", "error": "\(error)"])
        }
    }
}
