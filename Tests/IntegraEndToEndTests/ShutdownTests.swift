import IntegraClient
@testable import IntegraServer
import IntegraTestSupport
import Testing

@Suite struct ShutdownTests {
    @Test(.timeLimit(.minutes(5)))
    func shutdownLetsTheRequestInFlightFinishAndThenRefusesConnections() async throws {
        // bcrypt at cost 12 keeps the login in flight long enough to shut down under it. Its
        // threads run in the idle class, so on a machine busy with other tests the login may take
        // long: the grace period is made long enough for it.
        try await withTestServer(configure: {
            $0.bcryptCost = 12
            $0.shutdownGraceMs = 300_000
        }) { server in
            try await server.addCustomer("alice", cents: 100)
            try await withThrowingTaskGroup(of: String.self) { group in
                group.addTask { try await server.withClient { try await $0.login(username: "alice", password: TestServer.password).username } }
                // The server counts the login once its frame arrived, before the password check.
                await server.deployment.server.requestsInFlight.wait(until: { $0 > 0 })
                await server.stop()
                let username = try await group.next()
                #expect(username == "alice", "the login in flight got its answer")
            }
            await #expect(throws: IntegraClientError.self) {
                try await server.withClient { _ in }
            }
        }
    }
}
