import IntegraClient
import IntegraLedger
import IntegraTestSupport
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
}
