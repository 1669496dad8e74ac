import Foundation
import IntegraLedger
public import IntegraTransparency
import IntegraWitness
import Logging
import ServiceLifecycle
import Synchronization

/// The newest tree head the witnesses have cosigned, as a signed note carrying the identity
/// key's signature and their cosignatures: what `tree_proof` shows a client once witnesses are
/// configured. In memory; after a restart the witnesses cosign the current head again.
public final class WitnessedHead: Sendable {
    private let head = Mutex<SignedTreeHead?>(nil)

    public init() {}

    public var latest: SignedTreeHead? { self.head.withLock { $0 } }

    func record(_ head: SignedTreeHead) {
        self.head.withLock { current in
            if current == nil || current!.treeSize <= head.treeSize { current = head }
        }
    }
}

/// Offers the newest signed tree head to every witness (c2sp.org/tlog-witness `add-checkpoint`)
/// with the consistency proof from the size each last cosigned, and keeps the head with the
/// cosignatures collected (`WitnessedHead`). A witness that refuses a head as inconsistent with
/// what it cosigned is evidence of a fork: logged at critical, with both sizes.
final class WitnessPusher: Service {
    private struct Witness {
        let endpoint: WitnessEndpoint
        let client: WitnessClient
        /// The size this witness cosigned last, as far as the server knows.
        var size: UInt64 = 0
        /// Its cosignature of the current head, if it gave one.
        var cosignature: NoteSignature?
        var refusedSize: UInt64?
    }

    private let endpoints: [WitnessEndpoint]
    private let store: any LedgerStore
    private let logVerifier: NoteVerifier
    private let witnessed: WitnessedHead
    private let intervalMs: Int64
    private let logger: Logger

    init(endpoints: [WitnessEndpoint], store: any LedgerStore, logVerifier: NoteVerifier, witnessed: WitnessedHead, intervalMs: Int64, logger: Logger) {
        self.endpoints = endpoints
        self.store = store
        self.logVerifier = logVerifier
        self.witnessed = witnessed
        self.intervalMs = intervalMs
        self.logger = logger
    }

    func run() async {
        guard !self.endpoints.isEmpty else { return }
        await cancelWhenGracefulShutdown { await self.push() }
    }

    private func push() async {
        var witnesses = self.endpoints.compactMap { endpoint in
            URL(string: endpoint.url).map { Witness(endpoint: endpoint, client: WitnessClient(url: $0, witness: endpoint.verifier)) }
        }
        var current: SignedTreeHead?
        while (try? await Task.sleep(for: .milliseconds(self.intervalMs))) != nil {
            guard let head = try? await self.store.latestTreeHead(), head.isSigned(by: self.logVerifier) else { continue }
            if head != current {
                current = head
                for index in witnesses.indices { witnesses[index].cosignature = nil }
            }
            for index in witnesses.indices where witnesses[index].cosignature == nil && witnesses[index].refusedSize != head.treeSize {
                await self.offer(head, to: &witnesses[index])
            }
            let cosignatures = witnesses.compactMap(\.cosignature)
            guard !cosignatures.isEmpty, var note = try? SignedNote(parsing: head.note) else { continue }
            for cosignature in cosignatures { note = (try? note.adding(cosignature)) ?? note }
            self.witnessed.record(SignedTreeHead(treeSize: head.treeSize, rootHash: head.rootHash, createdAtMs: head.createdAtMs, note: note.bytes))
        }
    }

    /// Offers `head` to one witness, once more after it named the size it cosigned last.
    private func offer(_ head: SignedTreeHead, to witness: inout Witness) async {
        for _ in 0..<2 {
            let oldSize = min(witness.size, head.treeSize)
            guard let proof = await self.consistencyProof(from: oldSize, to: head) else { return }
            let result: AddCheckpointResult
            do {
                result = try await witness.client.addCheckpoint(noteBytes: head.note, oldSize: oldSize, consistencyProof: proof)
            } catch .transport(let reason) {
                self.logger.warning("witness unreachable", metadata: ["witness": "\(witness.endpoint.url)", "error": "\(reason)"])
                return
            } catch {
                // It answered, but not with a cosignature by the key in --witness.
                self.logger.error(
                    "the witness's answer does not check out: is the key given with --witness this witness's?",
                    metadata: ["witness": "\(witness.endpoint.url)", "error": "\(error)"])
                return
            }
            switch result {
            case .cosigned(let signature):
                witness.size = head.treeSize
                witness.cosignature = signature
                return
            case .conflict(let latestTreeSize):
                guard latestTreeSize != witness.size, latestTreeSize <= head.treeSize else {
                    self.refused(
                        head, by: &witness, status: 409, message: "the witness has cosigned \(latestTreeSize) entries, more than this head",
                        witnessSize: latestTreeSize)
                    return
                }
                witness.size = latestTreeSize
            case .refused(let status, let message):
                self.refused(head, by: &witness, status: status, message: message)
                return
            }
        }
    }

    /// - Parameter witnessSize: the size the witness said it cosigned, when it said one.
    private func refused(_ head: SignedTreeHead, by witness: inout Witness, status: Int, message: String, witnessSize: UInt64? = nil) {
        witness.refusedSize = head.treeSize
        let metadata: Logger.Metadata = [
            "witness": "\(witness.endpoint.url)", "status": "\(status)", "head": "\(head.treeSize)",
            "witness_size": "\(witnessSize ?? witness.size)", "reason": "\(message)",
        ]
        if status == 422 || status == 409 {
            self.logger.critical("a witness refused the ledger's tree head as inconsistent with the one it cosigned: check for a restored or forked ledger", metadata: metadata)
        } else {
            self.logger.warning("a witness refused the ledger's tree head", metadata: metadata)
        }
    }

    /// The consistency proof from `oldSize` to `head` from stored nodes; nil if the store lacks
    /// a node (the witness would refuse it anyway; the next round tries again).
    private func consistencyProof(from oldSize: UInt64, to head: SignedTreeHead) async -> [[UInt8]]? {
        guard let plan = try? MerkleProofPlan.consistency(oldTreeSize: oldSize, newTreeSize: head.treeSize) else { return nil }
        guard !plan.nodeIDs.isEmpty else { return [] }
        guard let nodes = try? await self.store.treeNodes(plan.nodeIDs) else { return nil }
        return try? plan.hashes(from: nodes)
    }
}
