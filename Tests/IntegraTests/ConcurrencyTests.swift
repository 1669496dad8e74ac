import Foundation
import IntegraClient
@testable import IntegraLedger
import IntegraVerifier
@testable import IntegraServer
import IntegraProtocol
import Testing

@Suite(.serialized) struct ConcurrencyTests {
    struct Acknowledged: Hashable {
        let sender: String
        let transferID: String
        let position: UInt64
    }

    /// 50 clients make random transfers among 10 customers for a few seconds, some retried with
    /// the same id. Afterwards money is conserved, nothing is negative, and every acknowledged
    /// transfer is in the ledger exactly once.
    @Test(arguments: TestStore.all) func fiftyClientsTransferringAtRandomKeepTheLedgerConsistent(store: TestStore) async throws {
        let server = try await TestServer.start(store)
        defer { Task { await server.stop() } }
        let customers = (0..<10).map { "customer\($0)" }
        let depositCents: Int64 = 100_000
        for name in customers { try await server.addCustomer(name, cents: depositCents) }

        let deadline = ContinuousClock.now + .seconds(4)
        let acknowledged = try await withThrowingTaskGroup(of: [Acknowledged].self) { group in
            for clientIndex in 0..<50 {
                let me = customers[clientIndex % customers.count]
                group.addTask {
                    try await server.withClient { client in
                        try await client.login(username: me, password: TestServer.password)
                        var mine: [Acknowledged] = []
                        var round = 0
                        // At least five rounds each, however slow the machine, then until the deadline.
                        while round < 5 || ContinuousClock.now < deadline {
                            round += 1
                            let recipient = customers.filter { $0 != me }.randomElement()!
                            let amount = Amount.format(cents: Int64.random(in: 1...5_000))
                            let id = "c\(clientIndex)-\(round)"
                            do {
                                let confirmation = try await client.transfer(to: recipient, amount: amount, transferID: id)
                                mine.append(Acknowledged(sender: me, transferID: id, position: confirmation.position))
                                if round.isMultiple(of: 5) {
                                    // A retry with the same id must return the same entry, not pay again.
                                    let retry = try await client.transfer(to: recipient, amount: amount, transferID: id)
                                    #expect(retry.isRetry && retry.position == confirmation.position)
                                }
                            } catch let error as IntegraClientError where error.code == ErrorCode.insufficientFunds.rawValue {
                                continue
                            }
                        }
                        return mine
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append(contentsOf: $1) }
        }
        #expect(acknowledged.count > 100, "too few transfers to mean anything: \(acknowledged.count)")

        let summary = try await server.store.summary()
        #expect(summary.customerBalanceCents == depositCents * Int64(customers.count))
        #expect(summary.depositedCents == depositCents * Int64(customers.count))
        #expect(summary.systemBalanceCents == -summary.depositedCents)
        #expect(summary.entries == Int64(acknowledged.count + customers.count))

        var inLedger: [String: Int] = [:]
        for name in customers {
            let user = try #require(try await server.store.user(named: Username(name)))
            let balance = try #require(try await server.store.balance(ofUserID: user.id))
            #expect(balance >= 0, "\(name) is negative")
            let history = try await server.withClient { client in
                try await client.login(username: name, password: TestServer.password)
                return try await client.fullHistory()
            }
            for entry in history where entry.kind == .transfer && entry.sender == name {
                inLedger["\(entry.sender)/\(entry.transferID)/\(entry.position)", default: 0] += 1
            }
        }
        for ack in acknowledged {
            #expect(inLedger["\(ack.sender)/\(ack.transferID)/\(ack.position)"] == 1, "\(ack) is not in the ledger exactly once")
        }
        #expect(inLedger.count == acknowledged.count)
    }

    /// 100,000 transfers committed in groups, as the server does under load: not one false alarm.
    @Test(arguments: TestStore.all) func hundredThousandTransfersVerifyClean(store: TestStore) async throws {
        let server = try await TestServer.start(store)
        defer { Task { await server.stop() } }
        let names = (0..<20).map { "holder\($0)" }
        var users: [UserRecord] = []
        for name in names {
            let outcome = try await server.store.commit([WriteRequest(nonce: nil, operation: .createUser(username: Username(name), passwordHash: "x"))], nowMs: 1)
            guard case .userCreated(let user) = outcome[0] else { throw TestFailure("\(outcome)") }
            users.append(user)
            _ = try await Administration.deposit(to: name, amount: "1000000", maximumCents: Int64.max, store: server.store)
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
            let outcomes = try await server.store.commit(requests, nowMs: Int64(batch))
            committed += outcomes.filter { if case .transferred = $0 { true } else { false } }.count
        }
        #expect(committed >= 99_000)
        let started = ContinuousClock.now
        let verifier = try await LedgerVerifier.run(store: server.store, seal: LedgerSeal(storageKey: server.deployment.keys.storageKey))
        print("verify on \(store): \(verifier.entriesChecked) entries in \(ContinuousClock.now - started)")
        #expect(verifier.violations.isEmpty, "\(verifier.violations.prefix(5))")
        #expect(verifier.entriesChecked == Int64(committed + names.count))
    }

}
