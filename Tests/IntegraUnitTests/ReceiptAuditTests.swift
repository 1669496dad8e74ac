import Crypto
@testable import IntegraProtocol
import Testing

/// What a customer's client checks when it audits a receipt: the entry a proof shows must be the
/// one the receipt names, field by field, or the proof proves nothing.
@Suite struct ReceiptAuditTests {
    @Test func auditComparesTheEntryShownWithTheReceiptFieldByField() throws {
        let identity = Curve25519.Signing.PrivateKey()
        let entry = CanonicalEntry(
            position: 3, kind: 1, transferID: "rent", fromUserID: 1, from: "alice", toUserID: 2, to: "bob",
            amountCents: 1_000, fromBalanceAfterCents: 99_000, toBalanceAfterCents: 51_000, createdAtMs: 7)
        let previous = [UInt8](repeating: 9, count: 32)
        func chain(_ encoding: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: previous + Array(SHA256.hash(data: encoding)))) }
        let receipt = try Receipt.sign(TransferConfirmation(
            transferID: "rent", position: 3, sender: "alice", recipient: "bob", amount: "10.00", balanceAfter: "990.00",
            createdAtMs: 7, isRetry: false, chainHash: chain(entry.encoding)), with: identity)
        func proof(showing shown: CanonicalEntry) throws -> InclusionProof {
            let payload = InclusionProof.checkpointPayload(position: 3, chainHash: receipt.chainHash, createdAtMs: 8)
            return InclusionProof(
                position: 3, digests: [], checkpointPosition: 3, checkpointChainHash: receipt.chainHash, checkpointCreatedAtMs: 8,
                checkpointSignature: Array(try identity.signature(for: payload)), entry: shown.encoding, previousChainHash: previous)
        }
        #expect(try proof(showing: entry).proves(receipt, identity: identity.publicKey))
        var other = entry
        other.amountCents = 1
        #expect(!(try proof(showing: other).proves(receipt, identity: identity.publicKey)), "another amount")
        other = entry
        other.to = "carol"
        #expect(!(try proof(showing: other).proves(receipt, identity: identity.publicKey)), "another recipient")
        other = entry
        other.toBalanceAfterCents += 1
        #expect(!(try proof(showing: other).proves(receipt, identity: identity.publicKey)), "content the receipt does not name still changes the chain hash")
    }
}
