import Foundation
import IntegraClient
@testable import IntegraLedger
@testable import IntegraProtocol
@testable import IntegraServer
import IntegraTestSupport
import Testing

/// A database writer who holds no key file uses what the seals do not cover on their own: the
/// columns rows are found by, the kind of a row, and rows that are each genuine but belong to
/// different moments (a deleted entry with an account or user row restored from before it).
/// Each attack runs through the real server; each test names the refusal or the finding and
/// checks that no money moved.
@Suite struct DatabaseWriterTests {
    /// `FailClosedTests.withLedger` (alice 1000.00, bob 500.00, carol 0.00 and three transfers).
    static func withLedger(_ store: TestStore, _ body: (TestServer) async throws -> Void) async throws {
        try await FailClosedTests.withLedger(store) { server, _ in try await body(server) }
    }

    static func loginCode(_ server: TestServer, _ name: String, password: String = TestServer.password) async -> UInt16? {
        do {
            try await server.withClient { try await $0.login(username: name, password: password) }
            return nil
        } catch let error as IntegraClientError {
            return error.code
        } catch {
            return nil
        }
    }

    // MARK: The columns rows are found by

    @Test(arguments: TestStore.all) func aLookupNameMovedToAnotherAccountNeitherPaysNorLogsIn(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            // Payments and logins for "bob" would reach carol's account.
            let carol = try await FailClosedTests.userID("carol", server)
            let bob = try await FailClosedTests.userID("bob", server)
            try await Tampering.tamper(
                server, "UPDATE users SET lookup_name = 'bob-moved' WHERE id = \(bob)", "UPDATE users SET lookup_name = 'bob' WHERE id = \(carol)")
            let before = try await FailClosedTests.money(server)
            FailClosedTests.expectRefusedByAlarm(try await FailClosedTests.transfer(server, from: "alice", to: "bob", amount: "7.00", id: "redirected"))
            #expect(try await FailClosedTests.money(server) == before, "no money moved")
            #expect(await Self.loginCode(server, "bob") == ErrorCode.integrityAlarm.rawValue, "nobody logs in to carol's account as bob")
            #expect(FailClosedTests.openAlarmKinds(server) == ["user-changed"])
            let found = try await Tampering.violations(server)
            #expect(Set(found.compactMap(\.userID)) == [bob, carol], "\(found)")
            #expect(Set(found.map(\.kind.rawValue)) == ["user-changed"])
        }
    }

    @Test(arguments: TestStore.all) func theSystemAccountMadeACustomerReceivesNothing(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            try await Tampering.tamper(server, "UPDATE users SET kind = 0 WHERE id = \(SystemAccount.userID)")
            let before = try await FailClosedTests.money(server)
            FailClosedTests.expectRefusedByAlarm(try await FailClosedTests.transfer(server, from: "alice", to: "system", amount: "1.00", id: "to-system"))
            #expect(try await FailClosedTests.money(server) == before, "no money moved")
            #expect(FailClosedTests.openAlarmKinds(server) == ["user-changed"])
        }
    }

    @Test(arguments: TestStore.all) func aCustomerMadeASystemAccountOrGivenAnotherSkeletonIsFoundByVerify(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            let carol = try await FailClosedTests.userID("carol", server)
            let bob = try await FailClosedTests.userID("bob", server)
            try await Tampering.tamper(
                server, "UPDATE users SET kind = 1 WHERE id = \(carol)", "UPDATE users SET skeleton = 'someone else' WHERE id = \(bob)")
            let found = try await Tampering.violations(server)
            #expect(Set(found.compactMap(\.userID)) == [bob, carol], "\(found)")
            #expect(Set(found.map(\.kind.rawValue)) == ["user-changed"])
        }
    }

    @Test(arguments: TestStore.all) func aRowWhoseKeysWereTakenAwayIsFoundByVerify(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            // carol can no longer be found by her name (nobody else holds it).
            let carol = try await FailClosedTests.userID("carol", server)
            try await Tampering.tamper(server, "UPDATE users SET lookup_name = NULL, skeleton = NULL WHERE id = \(carol)")
            let found = try await Tampering.violations(server)
            #expect(found.map(\.kind.rawValue) == ["user-changed"], "\(found)")
            #expect(found.first?.userID == carol)
        }
    }

    // MARK: Genuine rows from different moments

    /// Alice pays bob 100.00 and bob pays carol after it; then the payment disappears and
    /// alice's account row goes back to before it. Each row left is genuine. Returns alice's id.
    static func unpayAlice(_ server: TestServer) async throws -> Int64 {
        let alice = try await FailClosedTests.userID("alice", server)
        let saved = try #require(try await server.store.sealedAccounts().first { $0.userID == alice })
        let spent = try await FailClosedTests.transfer(server, from: "alice", to: "bob", amount: "100.00", id: "spent").get()
        _ = try await FailClosedTests.transfer(server, from: "bob", to: "carol", amount: "1.00", id: "later").get()
        try await Tampering.tamper(
            server, "DELETE FROM entries WHERE position = \(spent.position)",
            "UPDATE accounts SET balance_cents = \(saved.balanceCents), mac = \(Tampering.hex(saved.mac ?? [])) WHERE user_id = \(alice)")
        return alice
    }

    @Test(arguments: TestStore.all) func aDeletedEntryWithTheAccountRowFromBeforeItIsNeverSpent(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            _ = try await Self.unpayAlice(server)
            let before = try await FailClosedTests.money(server)
            FailClosedTests.expectRefusedByAlarm(try await FailClosedTests.transfer(server, from: "alice", to: "carol", amount: "988.00", id: "twice"))
            #expect(try await FailClosedTests.money(server) == before, "no money moved")
            #expect(FailClosedTests.openAlarmKinds(server).contains("entries-missing"), "\(FailClosedTests.openAlarmKinds(server))")
        }
    }

    @Test(arguments: TestStore.all) func aDeletedEntryIsFoundFromTheLedgerItselfAfterARestart(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            let alice = try await Self.unpayAlice(server)
            // A store that knows nothing yet (as after a restart) reads the gap from the ledger.
            await server.store.forgetVerifiedRows()
            let evidence = try #require(try await server.store.account(ofUserID: alice))
            #expect(evidence.knownLatestPosition == nil)
            #expect(evidence.missingAfterLatest == 1)
            let violation = LedgerIntegrity.check(evidence, seal: LedgerSeal(storageKey: server.deployment.keys.storageKey))
            #expect(violation?.kind == .entriesMissing, "\(String(describing: violation))")
        }
    }

    /// bob changes his password, then alice pays carol; returns bob's id and his user row from
    /// before the change.
    static func changeBobsPassword(_ server: TestServer) async throws -> (Int64, SealedUser) {
        let bob = try await FailClosedTests.userID("bob", server)
        let old = try #require(try await server.store.sealedUsers().first { $0.id == bob })
        try await server.withClient { client in
            try await client.login(username: "bob", password: TestServer.password)
            try await client.changePassword(current: TestServer.password, new: "a brand new passphrase")
        }
        _ = try await FailClosedTests.transfer(server, from: "alice", to: "carol", amount: "1.00", id: "after-the-change").get()
        return (bob, old)
    }

    @Test(arguments: TestStore.all) func aDeletedPasswordChangeWithTheUserRowFromBeforeItNeverLogsIn(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            let (bob, old) = try await Self.changeBobsPassword(server)
            try await Tampering.tamper(
                server, "DELETE FROM entries WHERE kind = 3 AND from_user = \(bob)",
                "UPDATE users SET password_hash = '\(old.passwordHash)', credential_version = \(old.credentialVersion), mac = \(Tampering.hex(old.mac ?? [])) WHERE id = \(bob)")
            #expect(await Self.loginCode(server, "bob") == ErrorCode.integrityAlarm.rawValue, "the old password does not log in")
            #expect(FailClosedTests.openAlarmKinds(server).contains("entries-missing"), "\(FailClosedTests.openAlarmKinds(server))")
        }
    }

    // MARK: While the server is stopped

    /// Runs `body` on a server restarted on the data of the stopped `server`, after `statements`
    /// ran on its database.
    static func withRestarted<T>(_ server: TestServer, after statements: [String], _ body: (TestServer) async throws -> T) async throws -> T {
        // MariaDB checks foreign keys; a database writer turns that off first.
        try await Tampering.tamper(server, (server.database == nil ? [] : ["SET FOREIGN_KEY_CHECKS = 0"]) + statements)
        return try await FailClosedTests.withRestarted(server, body)
    }

    /// The entry that paid bob is kept but made to name users that do not exist, and both
    /// account rows from before it are put back, while the server is stopped: nothing names
    /// alice's last entry any more, and the ledger has no gap. The server verifies the whole
    /// ledger before it serves, so it neither shows nor spends the money twice.
    @Test(arguments: TestStore.all) func anEntryMadeToNameNoOneWhileTheServerWasStoppedIsNeverSpent(store: TestStore) async throws {
        let database = try store.freshLocation()
        try await withTemporaryDirectory { directory in
            let (first, spent, saved) = try await FailClosedTests.withLedger(database: database, directory: directory) { server, _ in
                let alice = try await FailClosedTests.userID("alice", server)
                let bob = try await FailClosedTests.userID("bob", server)
                let saved = try await server.store.sealedAccounts().filter { $0.userID == alice || $0.userID == bob }
                let spent = try await FailClosedTests.transfer(server, from: "alice", to: "bob", amount: "100.00", id: "spent").get()
                _ = try await FailClosedTests.transfer(server, from: "bob", to: "carol", amount: "1.00", id: "later").get()
                return (server, spent, saved)
            }
            let statements = ["UPDATE entries SET from_user = 99, to_user = 98 WHERE position = \(spent.position)"]
                + saved.map { "UPDATE accounts SET balance_cents = \($0.balanceCents), mac = \(Tampering.hex($0.mac ?? [])) WHERE user_id = \($0.userID)" }
            try await Self.withRestarted(first, after: statements) { server in
                #expect(FailClosedTests.openAlarmKinds(server).contains("entries-missing"), "\(FailClosedTests.openAlarmKinds(server))")
                let tampered = try await FailClosedTests.money(server)
                FailClosedTests.expectRefusedByAlarm(try await FailClosedTests.transfer(server, from: "alice", to: "carol", amount: "999.00", id: "twice"))
                #expect(await Self.loginCode(server, "alice") == ErrorCode.integrityAlarm.rawValue, "the restored balance is not shown")
                #expect(try await FailClosedTests.money(server) == tampered, "no money moved")
            }
        }
    }

    /// The password change is kept but made to name no one, and bob's user row from before it
    /// is put back, while the server is stopped: the old password does not log in.
    @Test(arguments: TestStore.all) func aPasswordChangeMadeToNameNoOneWhileTheServerWasStoppedLetsNoOldPasswordIn(store: TestStore) async throws {
        let database = try store.freshLocation()
        try await withTemporaryDirectory { directory in
            let (first, bob, old) = try await FailClosedTests.withLedger(database: database, directory: directory) { server, _ in
                let (bob, old) = try await Self.changeBobsPassword(server)
                return (server, bob, old)
            }
            let statements = [
                "UPDATE entries SET from_user = 99, to_user = 99 WHERE kind = 3 AND from_user = \(bob)",
                "UPDATE users SET password_hash = '\(old.passwordHash)', credential_version = \(old.credentialVersion), mac = \(Tampering.hex(old.mac ?? [])) WHERE id = \(bob)",
            ]
            try await Self.withRestarted(first, after: statements) { server in
                #expect(await Self.loginCode(server, "bob") == ErrorCode.integrityAlarm.rawValue, "the old password does not log in")
                #expect(await Self.loginCode(server, "carol") == nil, "an account with entries after the missing one still logs in")
                #expect(FailClosedTests.openAlarmKinds(server).contains("entries-missing"), "\(FailClosedTests.openAlarmKinds(server))")
            }
        }
    }
}
