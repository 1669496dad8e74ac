import IntegraLedger
import IntegraTransparency
import Synchronization

/// The echo baseline's ledger: a Merkle tree in memory, grown by the same group commits as the
/// real ledger's and signed the same way, one tree head per group, so that the echo server's
/// receipts cost what the real server's cost except the store.
///
/// Only transfers are accepted; balances never change (every echo account reports
/// `EchoService.balance`), and nothing is kept but the tree's right edge (a few dozen hashes).
final class EchoLedger: Sendable {
    private struct State {
        var frontier = MerkleFrontier()
        var chainHash = LedgerSeal.genesisHash
    }

    private let signer: TreeHeadSigner
    private let state = Mutex(State())
    static let balanceCents: Int64 = 100_000_000_000

    init(signer: TreeHeadSigner) {
        self.signer = signer
    }

    /// One group: every transfer gets the next position and its inclusion proof in the one head
    /// signed for the group; anything else is refused (the echo server keeps no users).
    func commit(_ requests: [WriteRequest], nowMs: Int64) throws(LedgerError) -> [WriteOutcome] {
        try self.state.withLock { (state: inout State) throws(LedgerError) -> [WriteOutcome] in
            var entries: [LedgerEntry] = []
            var outcomes: [WriteOutcome] = []
            var chainHashes: [[UInt8]] = []
            var receiptIndices: [Int] = []
            // Committed to the state with the frontier, once the group's head is signed.
            var chainHash = state.chainHash
            for request in requests {
                guard case .transfer(let intent) = request.operation else {
                    outcomes.append(.rejected(.storeUnavailable("the echo server keeps no ledger")))
                    continue
                }
                let entry = LedgerEntry(
                    position: Int64(state.frontier.treeSize) + Int64(entries.count) + 1, kind: .transfer, transferID: intent.transferID,
                    fromUserID: intent.senderID, from: intent.sender, toUserID: 0, to: intent.recipient, amount: intent.amount,
                    fromBalanceAfterCents: Self.balanceCents, toBalanceAfterCents: Self.balanceCents, createdAtMs: nowMs)
                chainHash = LedgerSeal.chainHash(previous: chainHash, entry: entry)
                entries.append(entry)
                chainHashes.append(chainHash)
                receiptIndices.append(outcomes.count)
                outcomes.append(.rejected(.storeUnavailable("the group was not signed")))
            }
            guard !entries.isEmpty else { return outcomes }
            let batch = try LedgerTree.append(entries, to: state.frontier, signer: self.signer, nowMs: nowMs)
            state.frontier = batch.frontier
            state.chainHash = chainHash
            let proofs = batch.inclusionProofs(positions: entries.map(\.position))
            for (next, index) in receiptIndices.enumerated() {
                outcomes[index] = .transferred(TransferReceipt(entry: entries[next], isRetry: false, chainHash: chainHashes[next], inclusion: proofs[next]))
            }
            return outcomes
        }
    }
}
