import Crypto
import IntegraClient
@testable import IntegraLedger
import IntegraProtocol
@testable import IntegraServer
import IntegraTestSupport
import IntegraTransparency
import Testing

/// `integra-server run --echo`, the load generator's baseline: real frames and checks, no ledger.
@Suite(.serialized) struct EchoModeTests {
    @Test func echoModeAnswersLoginsAndTransfersWithVerifiedReceiptsAndStoresNothing() async throws {
        try await withTestServer(configure: { $0.echo = true }) { server in
            let result = try await server.withClient { connection in
                let login = try await connection.login(username: "Nobody", password: "not checked in echo mode")
                let confirmation = try await connection.transfer(to: "Someone", amount: "1.5", transferID: "echo-1")
                return (login, confirmation)
            }
            #expect(result.0.username == "nobody")
            #expect(result.1.amount == "1.50" && result.1.recipient == "someone" && result.1.sender == "nobody")
            // Proven by a tree head like a real receipt, not signed one by one.
            #expect(result.1.signature.isEmpty && !result.1.treeHead.isEmpty)
            #expect(Receipt.provenHead(result.1, identity: server.deployment.keys.identityKey.publicKey)?.treeSize == result.1.position)
            #expect(try await server.store.summary().entries == 0)
            #expect(try await server.store.user(named: Username("nobody")) == nil)
        }
    }

    @Test func echoModeStillRefusesAnInvalidTransfer() async throws {
        try await withTestServer(configure: { $0.echo = true }) { server async throws in
            let error = await #expect(throws: IntegraClientError.self) {
                try await server.withClient { connection in
                    try await connection.login(username: "nobody", password: "whatever it is")
                    _ = try await connection.transfer(to: "someone", amount: "1.505", transferID: "echo-2")
                }
            }
            #expect(error?.name == "invalid_amount")
        }
    }

    @Test func theEchoLedgerSignsOneHeadPerGroupAndProvesEveryTransferOfTheGroupInIt() throws {
        let identity = Curve25519.Signing.PrivateKey()
        let ledger = EchoLedger(signer: TreeHeadSigner(identityKey: identity))
        func transfer(_ id: String) throws -> WriteRequest {
            WriteRequest(nonce: nil, operation: .transfer(TransferIntent(
                senderID: 7, sender: try Username("nobody"), transferID: try TransferID(id), recipient: try Username("someone"),
                amount: try Amount.parse("2.00", maximumCents: 1_000_000))))
        }
        let deposit = WriteRequest(nonce: nil, operation: .deposit(DepositIntent(
            transferID: try TransferID("d-1"), recipient: try Username("someone"), amount: try Amount.parse("1.00", maximumCents: 1_000_000))))
        let first = try ledger.commit([try transfer("a"), deposit, try transfer("b"), try transfer("c")], nowMs: 1)
        let second = try ledger.commit([try transfer("d")], nowMs: 2)
        func receipts(_ outcomes: [WriteOutcome]) -> [TransferReceipt] {
            outcomes.compactMap { if case .transferred(let receipt) = $0 { receipt } else { nil } }
        }
        #expect(first[1] == .rejected(.storeUnavailable("the echo server keeps no ledger")))
        #expect(receipts(first).map(\.entry.position) == [1, 2, 3])
        // One head for the group: every receipt of it carries the same signed note.
        #expect(Set(receipts(first).compactMap { $0.inclusion?.head.note }).count == 1)
        #expect(receipts(second).map(\.entry.position) == [4])
        for receipt in receipts(first) + receipts(second) {
            let confirmation = try #require(LedgerService.confirmation(receipt))
            #expect(Receipt.provenHead(confirmation, identity: identity.publicKey) != nil)
        }
        #expect(receipts(second).first?.inclusion?.head.treeSize == 4)
    }
}
