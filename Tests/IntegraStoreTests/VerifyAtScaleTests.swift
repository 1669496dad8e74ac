import Foundation
@testable import IntegraLedger
import IntegraVerifier
@testable import IntegraServer
import IntegraTestSupport
import Testing

/// The ledger's integrity checks at scale, on each store.
@Suite(.serialized) struct VerifyAtScaleTests {
    /// 100,000 transfers committed in groups, as the server does under load: not one false alarm.
    @Test(arguments: TestStore.all) func hundredThousandTransfersVerifyClean(kind: TestStore) async throws {
        try await kind.withNewStore { store in
            try await Self.hundredThousandTransfers(store, kind: kind)
        }
    }

    static func hundredThousandTransfers(_ store: any LedgerStore, kind: TestStore) async throws {
        let names = (0..<20).map { "holder\($0)" }
        var users: [UserRecord] = []
        for name in names {
            let outcome = try await store.commit([WriteRequest(nonce: nil, operation: .createUser(username: Username(name), passwordHash: "x"))], nowMs: 1)
            guard case .userCreated(let user) = outcome[0] else { throw TestFailure("\(outcome)") }
            users.append(user)
            _ = try await Administration.deposit(to: name, amount: "1000000", maximumCents: Int64.max, store: store)
        }
        var generator = SystemRandomNumberGenerator()
        var committed = 0
        for batch in 0..<100 {
            let requests = (0..<1_000).map { index -> WriteRequest in
                let sender = users.randomElement(using: &generator)!
                var recipient = users.randomElement(using: &generator)!
                if recipient.id == sender.id { recipient = users[(users.firstIndex(of: sender)! + 1) % users.count] }
                return WriteRequest(nonce: nil, operation: .transfer(TransferIntent(
                    senderID: sender.id, sender: sender.username, transferID: TransferID(trusted: "b\(batch)-\(index)"),
                    recipient: recipient.username, amount: Amount(cents: Int64.random(in: 1...10_000, using: &generator)))))
            }
            let outcomes = try await store.commit(requests, nowMs: Int64(batch))
            committed += outcomes.filter { if case .transferred = $0 { true } else { false } }.count
        }
        #expect(committed >= 99_000)
        let started = ContinuousClock.now
        let verifier = try await LedgerVerifier.run(store: store, seal: testSeal, identity: testIdentityKey.publicKey)
        print("verify on \(kind): \(verifier.entriesChecked) entries in \(ContinuousClock.now - started)")
        #expect(verifier.violations.isEmpty, "\(verifier.violations.prefix(5))")
        #expect(verifier.entriesChecked == Int64(committed + names.count))
    }
}
