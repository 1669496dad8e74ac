import IntegraLedger
import IntegraProtocol
import IntegraTransparency

/// Answers `tree_proof`: the latest signed tree head, an entry's inclusion proof in it and the
/// consistency proof from an earlier size, each O(log n) stored nodes, and each checked against
/// the signed roots before it is handed out (stored nodes are not trusted).
enum TreeProver {
    static func proofs(
        position: UInt64?, fromTreeSize: UInt64?, partyUserID: Int64?, store: any LedgerStore, seal: LedgerSeal, verifier: NoteVerifier,
        verified: LedgerIntegrity.ChainPoint, witnessed: SignedTreeHead? = nil
    ) async throws -> TreeProofs {
        guard let latest = try await store.latestTreeHead() else {
            guard verified.position == 0 else {
                throw LedgerError.integrityAlarm(IntegrityViolation(kind: .treeMismatch, message: "no signed tree head is stored for a ledger of \(verified.position) entries"))
            }
            throw ProtocolError(.entryNotFound, "the ledger has no entries yet")
        }
        guard latest.isSigned(by: verifier) else {
            throw LedgerError.integrityAlarm(IntegrityViolation(kind: .treeMismatch, message: "the latest tree head (\(latest.treeSize) entries) does not carry the identity key's signature"))
        }
        guard latest.treeSize >= UInt64(max(0, verified.position)) else {
            throw LedgerError.integrityAlarm(IntegrityViolation(
                kind: .ledgerRolledBack, message: "the latest signed tree head covers \(latest.treeSize) entries, the verified ledger \(verified.position)"))
        }
        // With witnesses, the head they cosigned (it may lag behind by a push interval), unless
        // the entry asked for came after it.
        var head = latest
        if let witnessed, witnessed.treeSize <= latest.treeSize, witnessed.isSigned(by: verifier),
           (position ?? 0) <= witnessed.treeSize, (fromTreeSize ?? 0) <= witnessed.treeSize {
            head = witnessed
        }
        var proofs = TreeProofs(treeHead: head.note)
        if let position {
            let entry = try await Self.entry(at: position, partyUserID: partyUserID, treeSize: head.treeSize, store: store, seal: seal)
            let plan = try MerkleProofPlan.inclusion(leafIndex: position - 1, treeSize: head.treeSize)
            let nodes = try await store.treeNodes(plan.nodeIDs)
            guard let inclusion = LedgerTree.storedInclusion(of: entry, in: head, nodes: { _ in nodes }) else {
                throw LedgerError.integrityAlarm(IntegrityViolation(kind: .treeMismatch, message: "the stored tree does not prove entry \(position) in the head of \(head.treeSize) entries"))
            }
            proofs.entry = LedgerSeal.encoding(of: entry)
            proofs.inclusionPath = inclusion.path
        }
        if let fromTreeSize, fromTreeSize > 0, fromTreeSize < head.treeSize {
            let plan = try MerkleProofPlan.consistency(oldTreeSize: fromTreeSize, newTreeSize: head.treeSize)
            guard let path = try? plan.hashes(from: try await store.treeNodes(plan.nodeIDs)) else {
                throw LedgerError.integrityAlarm(IntegrityViolation(kind: .treeMismatch, message: "the stored tree lacks nodes of the consistency proof from \(fromTreeSize) entries"))
            }
            // When the server signed a head of that size, the proof must lead from it.
            if let earlier = try await store.treeHeads(afterTreeSize: fromTreeSize - 1, limit: 1).first, earlier.treeSize == fromTreeSize,
               earlier.isSigned(by: verifier),
               !MerkleProofVerifier.verifyConsistency(
                   oldTreeSize: fromTreeSize, oldRootHash: earlier.rootHash, newTreeSize: head.treeSize, newRootHash: head.rootHash, proof: path)
            {
                throw LedgerError.integrityAlarm(IntegrityViolation(
                    kind: .treeMismatch, message: "the stored tree does not prove that the head of \(head.treeSize) entries extends the head of \(fromTreeSize)"))
            }
            proofs.fromTreeSize = fromTreeSize
            proofs.consistencyPath = path
        } else if let fromTreeSize {
            proofs.fromTreeSize = fromTreeSize
        }
        return proofs
    }

    /// The entry at `position`, checked against its seal, if the customer is party to it.
    private static func entry(at position: UInt64, partyUserID: Int64?, treeSize: UInt64, store: any LedgerStore, seal: LedgerSeal) async throws -> LedgerEntry {
        let notFound = ProtocolError(.entryNotFound, "there is no ledger entry of yours at position \(position)")
        guard position >= 1, position <= treeSize, let evidence = try await store.entry(at: Int64(position)) else { throw notFound }
        let entry = evidence.sealed.entry
        if let party = partyUserID, entry.fromUserID != party && entry.toUserID != party { throw notFound }
        if let violation = LedgerIntegrity.check(evidence, seal: seal) { throw LedgerError.integrityAlarm(violation) }
        return entry
    }
}
