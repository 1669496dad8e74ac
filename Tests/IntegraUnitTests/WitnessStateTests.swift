import Crypto
@testable import IntegraTransparency
@testable import IntegraTransparency
import Testing

/// A witness cosigns only what the log signed and what extends the last checkpoint it cosigned;
/// a log that shows it two histories is refused, and the refusal is an alarm.
@Suite struct WitnessStateTests {
    static let origin = "bank.example/integra"
    static let tree = InMemoryMerkleTree(leafCount: 40)

    let log: NoteSigner
    let witness: WitnessState

    init() throws {
        self.log = try NoteSigner(keyName: Self.origin, privateKey: Curve25519.Signing.PrivateKey())
        self.witness = WitnessState(logVerifier: self.log.verifier)
    }

    static func root(treeSize: UInt64) throws -> [UInt8] {
        try MerkleFrontier(treeSize: treeSize, nodes: Self.tree.nodes(MerkleFrontier.nodeIDs(treeSize: treeSize))).rootHash
    }

    static func proof(from oldSize: UInt64, to newSize: UInt64) throws -> [[UInt8]] {
        let plan = try MerkleProofPlan.consistency(oldTreeSize: oldSize, newTreeSize: newSize)
        return try plan.hashes(from: Self.tree.nodes(plan.nodeIDs))
    }

    func note(treeSize: UInt64, rootHash: [UInt8]? = nil, signer: NoteSigner? = nil) throws -> [UInt8] {
        let checkpoint = try TreeCheckpoint(origin: Self.origin, treeSize: treeSize, rootHash: rootHash ?? Self.root(treeSize: treeSize))
        return try (signer ?? self.log).sign(checkpoint).bytes
    }

    @Test func theFirstCheckpointAndEveryConsistentExtensionAreCosigned() throws {
        var witness = self.witness
        guard case .cosign(let first) = witness.checkpointOffered(noteBytes: try self.note(treeSize: 10), oldSize: 0, consistencyProof: []) else {
            Issue.record("the first checkpoint was refused")
            return
        }
        #expect(first.treeSize == 10 && witness.latestTreeSize == 10)
        for (old, new) in [(UInt64(10), UInt64(17)), (17, 17), (17, 32), (32, 40)] {
            let decision = witness.checkpointOffered(noteBytes: try self.note(treeSize: new), oldSize: old, consistencyProof: try Self.proof(from: old, to: new))
            #expect(decision == .cosign(try TreeCheckpoint(origin: Self.origin, treeSize: new, rootHash: Self.root(treeSize: new))), "\(old) → \(new)")
        }
        #expect(witness.latestTreeSize == 40)
    }

    @Test func aForkedHistoryIsRefusedAsAnAlarmAndNothingMoves() throws {
        var witness = self.witness
        _ = witness.checkpointOffered(noteBytes: try self.note(treeSize: 20), oldSize: 0, consistencyProof: [])
        let before = witness
        // The log rewrote leaf 3 and grew: its proof from 20 can't end at the forked root.
        var forkedLeaves = (0..<UInt64(30)).map(MerkleTreeTests.leafHash)
        forkedLeaves[3] = MerkleTree.leafHash(Array("rewritten".utf8))
        let forkedRoot = try MerkleFrontier().appending(leafHashes: forkedLeaves).rootHash
        let grown = witness.checkpointOffered(noteBytes: try self.note(treeSize: 30, rootHash: forkedRoot), oldSize: 20, consistencyProof: try Self.proof(from: 20, to: 30))
        // The same size with another root.
        let sameSize = witness.checkpointOffered(
            noteBytes: try self.note(treeSize: 20, rootHash: try MerkleFrontier().appending(leafHashes: Array(forkedLeaves.prefix(20))).rootHash),
            oldSize: 20, consistencyProof: [])
        for decision in [grown, sameSize] {
            guard case .refuse(let refusal) = decision, case .inconsistent = refusal else {
                Issue.record("a forked history was not refused: \(decision)")
                continue
            }
            #expect(refusal.raisesAlarm && refusal.httpStatus == 422)
        }
        #expect(witness == before, "a refusal leaves the cosigned checkpoint where it was")
    }

    @Test func aSmallerTreeOrAStaleOldSizeIsRefusedWithTheWitnessesSize() throws {
        var witness = self.witness
        _ = witness.checkpointOffered(noteBytes: try self.note(treeSize: 25), oldSize: 0, consistencyProof: [])
        let rolledBack = witness.checkpointOffered(noteBytes: try self.note(treeSize: 12), oldSize: 25, consistencyProof: [])
        #expect(rolledBack == .refuse(.smallerThanOldSize))
        let stale = witness.checkpointOffered(noteBytes: try self.note(treeSize: 30), oldSize: 12, consistencyProof: try Self.proof(from: 12, to: 30))
        #expect(stale == .refuse(.oldSizeMismatch(latestTreeSize: 25)))
        #expect(WitnessRefusal.oldSizeMismatch(latestTreeSize: 25).httpStatus == 409)
        #expect(!WitnessRefusal.oldSizeMismatch(latestTreeSize: 25).raisesAlarm)
        #expect(witness.latestTreeSize == 25)
    }

    @Test func onlyTheLogsKeyAndOriginAreAccepted() throws {
        var witness = self.witness
        let impostor = try NoteSigner(keyName: Self.origin, privateKey: Curve25519.Signing.PrivateKey())
        #expect(witness.checkpointOffered(noteBytes: try self.note(treeSize: 5, signer: impostor), oldSize: 0, consistencyProof: []) == .refuse(.notSignedByTheLog))
        let otherLog = try NoteSigner(keyName: "other.example/log", privateKey: Curve25519.Signing.PrivateKey())
        let otherNote = try otherLog.sign(try TreeCheckpoint(origin: "other.example/log", treeSize: 5, rootHash: Self.root(treeSize: 5))).bytes
        #expect(witness.checkpointOffered(noteBytes: otherNote, oldSize: 0, consistencyProof: []) == .refuse(.unknownLog))
        #expect(witness.checkpointOffered(noteBytes: Array("not a note".utf8), oldSize: 0, consistencyProof: []) == .refuse(.notSignedByTheLog))
        #expect(witness.latest == nil)
    }

    @Test func anEmptyTreeMustHaveTheEmptyRoot() throws {
        var witness = self.witness
        let wrong = witness.checkpointOffered(noteBytes: try self.note(treeSize: 0, rootHash: Self.root(treeSize: 3)), oldSize: 0, consistencyProof: [])
        guard case .refuse(.inconsistent) = wrong else {
            Issue.record("an empty tree with a non-empty root was accepted: \(wrong)")
            return
        }
        #expect(witness.checkpointOffered(noteBytes: try self.note(treeSize: 0, rootHash: MerkleTree.emptyRootHash), oldSize: 0, consistencyProof: []) == .cosign(
            try TreeCheckpoint(origin: Self.origin, treeSize: 0, rootHash: MerkleTree.emptyRootHash)))
    }

    @Test func aCosignatureOnACosignedCheckpointVerifiesWithTheWitnessesKey() throws {
        var witness = self.witness
        guard case .cosign(let checkpoint) = witness.checkpointOffered(noteBytes: try self.note(treeSize: 8), oldSize: 0, consistencyProof: []) else {
            Issue.record("refused")
            return
        }
        let cosigner = try WitnessCosigner(keyName: "witness.example", privateKey: Curve25519.Signing.PrivateKey())
        let cosignature = try cosigner.cosignature(for: checkpoint, timestampSeconds: 1_790_000_000)
        let note = try self.log.sign(checkpoint).adding(cosignature)
        #expect(try note.verifiedSignatures(by: [cosigner.verifier]).count == 1)
        #expect(try TreeCheckpoint.opening(note.bytes, logVerifier: self.log.verifier) == checkpoint)
    }
}
