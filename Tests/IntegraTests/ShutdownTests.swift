import IntegraClient
@testable import IntegraServer
import Testing

@Suite struct ShutdownTests {
    @Test func shutdownLetsTheRequestInFlightFinishAndThenRefusesConnections() async throws {
        // bcrypt at cost 12 keeps the login in flight long enough to shut down under it. Its
        // threads run in the idle class, so on a machine busy with other tests the login may take
        // long: the grace period is made long enough for it.
        let server = try await TestServer.start {
            $0.bcryptCost = 12
            $0.shutdownGraceMs = 300_000
        }
        try await server.addCustomer("alice", cents: 100)
        let login = Task { try await server.withClient { try await $0.login(username: "alice", password: TestServer.password) } }
        let waitStart = ContinuousClock.now
        while server.deployment.server.requestsInFlightCount == 0 && ContinuousClock.now - waitStart < .seconds(60) {
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(server.deployment.server.requestsInFlightCount > 0, "the login never reached the server")
        await server.stop()
        let session = try await login.value
        #expect(session.username == "alice", "the login in flight got its answer")
        await #expect(throws: IntegraClientError.self) {
            try await server.withClient { _ in }
        }
    }
}
