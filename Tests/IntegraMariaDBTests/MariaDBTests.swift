#if MariaDB
import Foundation
import IntegraClient
import IntegraLedger
@testable import IntegraMariaDBStore
@testable import IntegraProtocol
@testable import IntegraServer
import IntegraStoreFactory
import IntegraTestSupport
import NIOCore
import NIOPosix
import Testing

/// Behaviour that only a shared, networked database has: several instances, and the database
/// going away and coming back.
@Suite(.serialized) struct MariaDBTests {
    /// Runs `body` with another instance of `first`'s deployment (same keys, same database).
    static func withSibling<T>(of first: TestServer, _ body: (TestServer) async throws -> T) async throws -> T {
        try await withTemporaryDirectory { directory in
            for file in ["client.key", "identity.key", "storage.key", "tls-certificate.pem", "tls-key.pem"] {
                try FileManager.default.copyItem(at: first.directory.appendingPathComponent(file), to: directory.appendingPathComponent(file))
            }
            return try await withTestServer(database: first.database, directory: directory, body)
        }
    }

    @Test func threeInstancesShareOneLedgerAndRejectEachOthersReplays() async throws {
        try await withTestServer(.mariadb) { first in
            try await Self.withSibling(of: first) { second in
                try await Self.withSibling(of: first) { third in
                    try await Self.threeInstancesShareOneLedger([first, second, third])
                }
            }
        }
    }

    static func threeInstancesShareOneLedger(_ instances: [TestServer]) async throws {
        let (first, second) = (instances[0], instances[1])
        let customers = (0..<6).map { "member\($0)" }
        for name in customers { try await first.addCustomer(name, cents: 50_000) }

        // A client configured for the first instance works with every instance.
        for instance in instances {
            let balance = try await first.withClient(server: instance.address) { client in
                try await client.login(username: "member0", password: TestServer.password)
                return try await client.balance()
            }
            #expect(balance == "500.00")
        }

        // A frame captured on one instance is rejected by another.
        let captured = try await first.withClient { client in
            try await client.login(username: "member0", password: TestServer.password)
            _ = try await client.transfer(to: "member1", amount: "1", transferID: "captured")
            return client.lastSentFrame!
        }
        let code = try await second.withRawSession { session in
            try await session.sendBytes(captured)
            return try await session.errorCodeThenClose()
        }
        #expect(code == .authenticationFailed)

        // Concurrent transfers through all three instances keep the ledger right.
        let deadline = ContinuousClock.now + .seconds(3)
        let acknowledged = try await withThrowingTaskGroup(of: [String].self) { group in
            for clientIndex in 0..<24 {
                let instance = instances[clientIndex % instances.count]
                let me = customers[clientIndex % customers.count]
                group.addTask {
                    try await first.withClient(server: instance.address) { client in
                        try await client.login(username: me, password: TestServer.password)
                        var ids: [String] = []
                        var round = 0
                        // At least four rounds each, however slow the machine, then until the deadline.
                        while round < 4 || ContinuousClock.now < deadline {
                            round += 1
                            let id = "m\(clientIndex)-\(round)"
                            let recipient = customers.filter { $0 != me }.randomElement()!
                            do {
                                _ = try await client.transfer(to: recipient, amount: Amount.format(cents: Int64.random(in: 1...3_000)), transferID: id)
                                ids.append("\(me)/\(id)")
                            } catch let error as IntegraClientError where error.code == ErrorCode.insufficientFunds.rawValue {
                                continue
                            }
                        }
                        return ids
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append(contentsOf: $1) }
        }
        #expect(acknowledged.count > 50)
        let summary = try await first.store.summary()
        #expect(summary.customerBalanceCents == 50_000 * Int64(customers.count))
        #expect(summary.depositedCents == summary.customerBalanceCents)
        #expect(summary.entries == Int64(customers.count + 1 + acknowledged.count))
        var seen: [String: Int] = [:]
        for name in customers {
            let user = try #require(try await first.store.user(named: Username(name)))
            #expect(try #require(try await first.store.balance(ofUserID: user.id)) >= 0)
            var before: Int64? = nil
            repeat {
                let page = try await first.store.history(ofUserID: user.id, beforePosition: before, limit: 500)
                for entry in page where entry.fromUserID == user.id && entry.kind == .transfer {
                    seen["\(entry.from)/\(entry.transferID)", default: 0] += 1
                }
                before = page.count == 500 ? page.last?.position : nil
            } while before != nil
        }
        for id in acknowledged { #expect(seen[id] == 1, "\(id) not in the ledger exactly once") }
    }

    @Test func anInstanceWithOtherKeysCannotJoinTheDatabase() async throws {
        try await withTestServer(.mariadb) { first async throws -> Void in
            await #expect(throws: LedgerError.deploymentMismatch) {
                try await withTestServer(database: first.database) { _ in }
            }
        }
    }

    @Test func noncesAreSharedBetweenStoreInstances() async throws {
        let location = try TestStore.freshMariaDB()
        try await withClosing(try await MariaDBLedgerStore.open(TestStore.configuration(location), seal: testSeal, signer: testSigner, poolSize: 2)) { one in
            try await withClosing(try await MariaDBLedgerStore.open(TestStore.configuration(location), seal: testSeal, signer: testSigner, poolSize: 2)) { two async throws in
                let nonce = NonceRecord(bytes: Array(repeating: 9, count: 16), timestampMs: 1_000)
                #expect(try await one.commit([WriteRequest(nonce: nonce, operation: .recordNonce)], nowMs: 1) == [.nonceRecorded])
                #expect(try await two.commit([WriteRequest(nonce: nonce, operation: .recordNonce)], nowMs: 1) == [.rejected(.replayedNonce)])
            }
        }
    }

    /// scripts/mariadb gives `integra` only Integra's grants (the whole suite runs on them) and
    /// `integra_app` only the run-time ones: SELECT, INSERT, UPDATE, DELETE.
    @Test func aUserWithRunTimeGrantsOnlyServesAMigratedLedgerButCannotMigrate() async throws {
        let location = try TestStore.freshMariaDB()
        await (try await MariaDBLedgerStore.open(TestStore.configuration(location), seal: testSeal, signer: testSigner, poolSize: 1)).close()
        var runTime = location
        runTime.user = "integra_app"
        try await withClosing(try await MariaDBLedgerStore.open(TestStore.configuration(runTime), seal: testSeal, signer: testSigner, poolSize: 2)) { store in
            let created = try await store.commit([WriteRequest(nonce: nil, operation: .createUser(username: try Username("app"), passwordHash: "!"))], nowMs: 1)
            guard case .userCreated? = created.first else { throw TestFailure("\(created)") }
            let nonce = NonceRecord(bytes: Array(repeating: 7, count: 16), timestampMs: 10)
            #expect(try await store.commit([WriteRequest(nonce: nonce, operation: .recordNonce)], nowMs: 1) == [.nonceRecorded])
            #expect(try await store.pruneNonces(olderThanMs: 11) == 1)
        }

        var fresh = try TestStore.freshMariaDB()
        fresh.user = "integra_app"
        do {
            await (try await MariaDBLedgerStore.open(TestStore.configuration(fresh), seal: testSeal, signer: testSigner, poolSize: 1)).close()
            Issue.record("a user without CREATE migrated a new database")
        } catch {
            guard case .storeUnavailable(let detail) = error else { throw error }
            #expect(detail.contains("CREATE command denied"), "\(detail)")
        }
    }

    @Test func mariaDBGoingAwayGivesRetryableErrorsAndRetriesApplyOnce() async throws {
        try await withTemporaryDirectory { temporary in
            let directory = temporary.appendingPathComponent("mariadb").path
            let port = try await Self.freePort()
            let url = try Self.mariadbScript("start", directory, "\(port)")
            defer { _ = try? Self.mariadbScript("stop", directory) }
            try await withTestServer(database: try DatabaseLocation.parse(url)) { server in
                try await Self.retriesApplyOnce(server, directory: directory, port: port)
            }
        }
    }

    static func retriesApplyOnce(_ server: TestServer, directory: String, port: Int) async throws {
        try await server.addCustomer("alice", cents: 10_000)
        try await server.addCustomer("bob", cents: 0)

        try await server.withClient { client in
            try await client.login(username: "alice", password: TestServer.password)
            _ = try await client.transfer(to: "bob", amount: "10", transferID: "before")

            _ = try Self.mariadbScript("kill", directory)
            do {
                _ = try await client.transfer(to: "bob", amount: "20", transferID: "during")
                Issue.record("a transfer was acknowledged while the database was down")
            } catch let error as IntegraClientError {
                #expect(error.isRetryable && error.code == ErrorCode.storeUnavailable.rawValue, "\(error)")
            }

            // scripts/mariadb returns once MariaDB accepts connections again; the store's pool
            // drops each connection that died with it and opens a new one, so a retry succeeds
            // after at most one failure per pooled connection.
            _ = try Self.mariadbScript("start", directory, "\(port)")
            var confirmation: TransferConfirmation?
            var failures: [IntegraClientError] = []
            for _ in 0..<50 where confirmation == nil {
                do {
                    confirmation = try await client.transfer(to: "bob", amount: "20", transferID: "during")
                } catch let error as IntegraClientError where error.isRetryable {
                    failures.append(error)
                }
            }
            let applied = try #require(confirmation, "the server did not reconnect: \(failures)")
            let again = try await client.transfer(to: "bob", amount: "20", transferID: "during")
            #expect(again.isRetry && again.position == applied.position)
            #expect(try await client.balance() == "70.00")
        }
        let summary = try await server.store.summary()
        #expect(summary.customerBalanceCents == summary.depositedCents)
        #expect(summary.entries == 3, "one deposit and two transfers")
    }

    /// More work than the pool of database connections can queue is the server being busy: it
    /// is refused at once as `overloaded` and answered `server_busy` (retryable), not taken for
    /// the database being unavailable.
    @Test(.timeLimit(.minutes(1))) func aFullQueueForDatabaseConnectionsIsServerBusyNotAnOutage() async throws {
        let pool = MariaDBConnectionPool(configuration: try TestStore.mariaDBBase(), size: 1, maximumWaiters: 0)
        let (started, connectionTaken) = AsyncStream.makeStream(of: Void.self)
        let release = DispatchSemaphore(value: 0)
        let refused: (any Error)? = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { connectionTaken.finish() }
                try await pool.withConnection { _ in
                    connectionTaken.yield()
                    release.wait()
                }
            }
            for await _ in started { break }
            let refused: (any Error)?
            do {
                try await pool.withConnection { _ in }
                refused = nil
            } catch {
                refused = error
            }
            release.signal()
            try await group.waitForAll()
            return refused
        }
        await pool.shutdown()
        let error = try #require(refused, "a job beyond the pool and its queue was run")
        let ledgerError = MariaDBLedgerStore.ledgerError(error)
        #expect(ledgerError == .overloaded, "\(error)")
        #expect(LedgerService.protocolError(ledgerError).code == .serverBusy)
    }

    /// Runs scripts/mariadb and returns what it printed. (`system` rather than Foundation's
    /// `Process`, whose `waitUntilExit` can hang off the main thread on Linux.)
    static func mariadbScript(_ arguments: String...) throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("out").path
            let command = ([root.appendingPathComponent("scripts/mariadb").path] + arguments).map { "'\($0)'" }.joined(separator: " ")
            guard system("bash \(command) > '\(output)'") == 0 else { throw TestFailure("scripts/mariadb \(arguments) failed") }
            return (try String(contentsOfFile: output, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }
}
#endif
