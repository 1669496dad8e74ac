import Foundation
import Crypto
import IntegraClient
@testable import IntegraLedger
import IntegraProtocol
@testable import IntegraServer
import IntegraTestSupport
import Testing

/// Someone with database access edits rows directly; `verify` must detect and name each change,
/// on both stores, and must stay silent on a clean ledger.
@Suite struct TamperTests {
    /// Runs `body` with a server that has three customers and a few transfers: entries 1 and 2
    /// are deposits to alice and bob, entry 3 is alice → bob 100.00, entry 4 is bob → carol 25.00.
    static func withLedger(_ store: TestStore, _ body: (TestServer) async throws -> Void) async throws {
        // Checkpoints only when a test makes one: a periodic checkpoint landing between two
        // verifies of one test would change what the second one finds.
        try await withTestServer(store, configure: { $0.checkpointIntervalMs = 3_600_000 }) { server in
            for (name, cents) in [("alice", Int64(100_000)), ("bob", 50_000), ("carol", 0)] {
                try await server.addCustomer(name, cents: cents)
            }
            let alice = try #require(try await server.store.user(named: Username("alice")))
            let bob = try #require(try await server.store.user(named: Username("bob")))
            let transfers = [(alice, "bob", Int64(10_000)), (bob, "carol", 2_500), (alice, "carol", 700), (bob, "alice", 1)]
            for (index, (sender, recipient, cents)) in transfers.enumerated() {
                let intent = TransferIntent(senderID: sender.id, sender: sender.username, transferID: TransferID(trusted: "t\(index)"), recipient: Username(trustedCanonical: recipient), amount: Amount(cents: cents))
                let outcome = try await server.store.commit([WriteRequest(nonce: nil, operation: .transfer(intent))], nowMs: 1_000 + Int64(index))
                guard case .transferred = outcome[0] else { throw TestFailure("setup transfer refused: \(outcome)") }
            }
            try await body(server)
        }
    }

    /// Has the server verify its new entries and sign a checkpoint now.
    static func checkpoint(_ server: TestServer) async throws -> LedgerCheckpoint {
        try #require(await server.deployment.monitor.checkpoint())
    }

    @Test(arguments: TestStore.all) func cleanLedgerHasNoViolations(store: TestStore) async throws {
        try await Self.withLedger(store) { server async throws in
            #expect(try await Tampering.violations(server).isEmpty)
        }
    }

    @Test(arguments: TestStore.all) func restoredOlderCopyIsDetectedByTheSignedCheckpoint(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            let older = try await Self.checkpoint(server)
            let olderAccounts = try await server.store.sealedAccounts()
            let alice = try #require(try await server.store.user(named: Username("alice")))
            for index in 0..<2 {
                let intent = TransferIntent(senderID: alice.id, sender: alice.username, transferID: TransferID(trusted: "late\(index)"), recipient: Username(trustedCanonical: "carol"), amount: Amount(cents: 100))
                _ = try await server.store.commit([WriteRequest(nonce: nil, operation: .transfer(intent))], nowMs: 9_000)
            }
            let newer = try await Self.checkpoint(server)
            #expect(newer.position == older.position + 2)
            #expect(try await Tampering.violations(server).isEmpty)

            // Put the database back as it was at the older checkpoint: entries, balances, checkpoints.
            var statements = [
                "DELETE FROM entries WHERE position > \(older.position)",
                "DELETE FROM checkpoints WHERE position > \(older.position)",
                "DELETE FROM tree_heads WHERE tree_size > \(older.position)",
            ]
            for account in olderAccounts {
                statements.append("UPDATE accounts SET balance_cents = \(account.balanceCents), mac = \(Tampering.hex(account.mac ?? [])) WHERE user_id = \(account.userID)")
            }
            if store == .mariadb {
                statements.append("UPDATE ledger_head SET position = \(older.position), chain_hash = \(Tampering.hex(older.chainHash)) WHERE id = 1")
            }
            for statement in statements { try await Tampering.tamper(server, statement) }
            let found = try await Tampering.violations(server)
            #expect(found.map(\.kind) == [.historyRewritten], "\(found)")
        }
    }

    @Test(arguments: TestStore.all) func forgedCheckpointIsDetected(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            let checkpoint = try await Self.checkpoint(server)
            try await Tampering.tamper(server, "UPDATE checkpoints SET created_at_ms = created_at_ms + 1 WHERE position = \(checkpoint.position)")
            let found = try await Tampering.violations(server)
            #expect(found.map(\.kind) == [.checkpointInvalid], "\(found)")
        }
    }

    @Test(arguments: TestStore.all) func auditProvesReceiptsAndCatchesARewrittenEntry(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            let identity = server.deployment.keys.identityKey.publicKey
            try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                let first = try await client.transfer(to: "bob", amount: "12.34", transferID: "audited")
                _ = try await client.transfer(to: "carol", amount: "1", transferID: "later")
                let proof = try await client.audit(first, identity: identity)
                #expect(proof.checkpointPosition == first.position + 1)

                // A receipt altered on the customer's side fails before the server is even asked.
                var altered = first
                altered.amount = "99999.00"
                await #expect(throws: IntegraClientError.self) { _ = try await client.audit(altered, identity: identity) }

                // Someone rewrites the entry in the database and repairs the public chain hashes: the
                // server finds the broken seals and signs nothing.
                try await Tampering.tamper(server, "UPDATE entries SET amount_cents = 1 WHERE position = \(first.position)")
                try await Tampering.rechain(server)
                do {
                    _ = try await client.audit(first, identity: identity)
                    Issue.record("a rewritten entry passed the audit")
                } catch let error as IntegraClientError {
                    #expect(error.kind == .server && error.code == ErrorCode.integrityAlarm.rawValue, "\(error)")
                }
            }
        }
    }

    @Test(arguments: TestStore.all) func changedAmountIsNamed(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            try await Tampering.tamper(server, "UPDATE entries SET amount_cents = 999900 WHERE position = 4")
            let found = try await Tampering.violations(server)
            #expect(found.contains { $0.kind == .entryChanged && $0.message == "amount changed in entry 4" }, "\(found)")
        }
    }

    @Test(arguments: TestStore.all) func changedRecipientIsDetected(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            let alice = try await Tampering.userID("alice", server)
            try await Tampering.tamper(server, "UPDATE entries SET to_user = \(alice) WHERE position = 4")
            let found = try await Tampering.violations(server)
            #expect(found.contains { $0.kind == .entryChanged && $0.message.hasSuffix("changed in entry 4") }, "\(found)")
        }
    }

    @Test(arguments: TestStore.all) func changedBalanceIsDetected(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            let bob = try await Tampering.userID("bob", server)
            try await Tampering.tamper(server, "UPDATE accounts SET balance_cents = balance_cents + 100000 WHERE user_id = \(bob)")
            let kinds = Set(try await Tampering.violations(server).map(\.kind))
            #expect(kinds == [.balanceChanged, .balanceMismatch])
        }
    }

    @Test(arguments: TestStore.all) func swappedPasswordHashIsDetectedAndCannotLogIn(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            // The attacker knows bob's password and copies bob's hash onto alice.
            let bobHash = try #require(try await server.store.user(named: Username("bob"))).passwordHash
            let alice = try await Tampering.userID("alice", server)
            try await Tampering.tamper(server, "UPDATE users SET password_hash = '\(bobHash)' WHERE id = \(alice)")
            let found = try await Tampering.violations(server)
            #expect(found.map(\.kind) == [.userChanged], "\(found)")
            do {
                try await server.withClient { try await $0.login(username: "alice", password: TestServer.password) }
                Issue.record("a tampered user row let someone in")
            } catch let error as IntegraClientError {
                #expect(error.code == ErrorCode.integrityAlarm.rawValue, "\(error)")
            }
            #expect(server.deployment.monitor.alarms.open.map(\.kind) == ["user-changed"])
        }
    }

    @Test(arguments: TestStore.all) func deletedEntryIsDetected(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            try await Tampering.tamper(server, "DELETE FROM entries WHERE position = 5")
            let found = try await Tampering.violations(server)
            #expect(found.contains { $0.kind == .entriesMissing && $0.message == "entries 5 to 5 are missing (deleted, or changed to name users that do not exist)" }, "\(found)")
            #expect(found.contains { $0.kind == .balanceMismatch })
        }
    }

    @Test(arguments: TestStore.all) func insertedOrDuplicatedEntryIsDetected(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            try await Tampering.tamper(server, """
                INSERT INTO entries (position, kind, transfer_id, from_user, to_user, amount_cents, from_balance_after, to_balance_after, created_at_ms, chain_hash, mac)
                SELECT 100, kind, 'copy', from_user, to_user, amount_cents, from_balance_after, to_balance_after, created_at_ms, chain_hash, mac FROM entries WHERE position = 4
                """)
            let found = try await Tampering.violations(server)
            #expect(found.contains { $0.kind == .entryNotSealed && $0.message.hasPrefix("entry 100 ") }, "\(found)")
        }
    }

    @Test(arguments: TestStore.all) func reorderedEntriesAreDetected(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            try await Tampering.tamper(server,
                "UPDATE entries SET position = 1000 WHERE position = 5",
                "UPDATE entries SET position = 5 WHERE position = 6",
                "UPDATE entries SET position = 6 WHERE position = 1000")
            let found = try await Tampering.violations(server)
            #expect(found.filter { $0.kind == .entryNotSealed }.count == 2, "\(found)")
        }
    }

    /// Entries are read with their users' names; an entry whose user row was deleted is missing
    /// from what verify reads, and reported so.
    @Test(arguments: TestStore.all) func entriesOfADeletedUserAreReportedMissing(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            let carol = try await Tampering.userID("carol", server)
            if store == .mariadb { try await Tampering.tamper(server, "SET FOREIGN_KEY_CHECKS = 0", "DELETE FROM users WHERE id = \(carol)") }
            else { try await Tampering.tamper(server, "DELETE FROM users WHERE id = \(carol)") }
            let found = try await Tampering.violations(server)
            #expect(found.contains { $0.kind == .entriesMissing && $0.message == "entries 4 to 5 are missing (deleted, or changed to name users that do not exist)" }, "\(found)")
        }
    }

    @Test(arguments: TestStore.all) func sealColumnsOfTheWrongSizeAreReportedUnsealed(store: TestStore) async throws {
        try await Self.withLedger(store) { server in
            try await Tampering.tamper(server,
                "UPDATE entries SET chain_hash = NULL WHERE position = 3",
                "UPDATE entries SET mac = X'0102' WHERE position = 5")
            let found = try await Tampering.violations(server)
            let unsealed = found.filter { $0.kind == .entryNotSealed }.map(\.message)
            #expect(unsealed.count == 2 && unsealed[0].hasPrefix("entry 3 ") && unsealed[1].hasPrefix("entry 5 "), "\(found)")
        }
    }
}
