import Foundation
import IntegraClient
@testable import IntegraLedger
@testable import IntegraServer
import IntegraProtocol
import IntegraTestSupport
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
        try await withTestServer(store) { server in
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
    }
}
