import Foundation
@testable import IntegraLedger
import IntegraVerifier
import IntegraProtocol
@testable import IntegraSQLiteStore
import IntegraTestSupport
import Testing
#if MariaDB
@testable import IntegraMariaDBStore
#endif

/// Schema version 6 gives user rows a credential version under a new seal, lets password changes
/// into the chain and keeps alarms. An existing deployment at version 5 must come out of the
/// upgrade with every entry byte for byte as it was, its genuine user rows re-sealed, and a user
/// row that was tampered with before the upgrade still detected (never laundered by the re-seal).
@Suite struct IntegrityMigrationTests {
    static let seal = testSeal

    /// The chain hash of the one entry of the version-5 ledger: 5.00 deposited to alice.
    static let depositChainHash = LedgerSeal.chainHash(
        previous: LedgerSeal.genesisHash,
        entry: LedgerEntry(
            position: 1, kind: .deposit, transferID: TransferID(trusted: "d-1"), fromUserID: 0, from: SystemAccount.username,
            toUserID: 1, to: Username(trustedCanonical: "alice"), amount: Amount(cents: 500),
            fromBalanceAfterCents: -500, toBalanceAfterCents: 500, createdAtMs: 1_000))

    /// Rows of a version-5 deployment: alice genuinely sealed, bob's password hash swapped after
    /// sealing, one deposit to alice.
    static func version5Rows() -> [String] {
        let chainHash = Self.depositChainHash
        func hex(_ bytes: [UInt8]) -> String { "x'\(bytes.hexString)'" }
        return [
            "INSERT INTO users (id, username, password_hash, kind, created_at_ms, mac) VALUES (1, 'alice', 'hash-a', 0, 1, \(hex(Self.seal.legacyUserMAC(userID: 1, username: "alice", passwordHash: "hash-a"))))",
            "INSERT INTO users (id, username, password_hash, kind, created_at_ms, mac) VALUES (2, 'bob', 'swapped', 0, 1, \(hex(Self.seal.legacyUserMAC(userID: 2, username: "bob", passwordHash: "hash-b"))))",
            "UPDATE users SET mac = \(hex(Self.seal.legacyUserMAC(userID: 0, username: "system", passwordHash: "!"))) WHERE id = 0",
            "UPDATE accounts SET balance_cents = -500, mac = \(hex(Self.seal.accountMAC(userID: 0, balanceCents: -500))) WHERE user_id = 0",
            "INSERT INTO accounts (user_id, balance_cents, mac) VALUES (1, 500, \(hex(Self.seal.accountMAC(userID: 1, balanceCents: 500))))",
            "INSERT INTO accounts (user_id, balance_cents, mac) VALUES (2, 0, \(hex(Self.seal.accountMAC(userID: 2, balanceCents: 0))))",
            "INSERT INTO entries (position, kind, transfer_id, from_user, to_user, amount_cents, from_balance_after, to_balance_after, created_at_ms, chain_hash, mac) VALUES (1, 2, 'd-1', 0, 1, 500, -500, 500, 1000, \(hex(chainHash)), \(hex(Self.seal.entryMAC(position: 1, chainHash: chainHash))))",
        ]
    }

    static func checkUpgraded(_ store: any LedgerStore) async throws {
        #expect(try await store.schemaVersion() == 8)
        let entry = try #require(try await store.sealedEntries(afterPosition: 0, limit: 10).first)
        #expect(entry.chainHash == Self.depositChainHash, "the chain is kept byte for byte")
        // The tree is built over the entries written before it existed, and its head signed.
        let head = try #require(try await store.latestTreeHead())
        let reference = try await ReferenceMerkleTree.rootHash(of: store)
        #expect(head.treeSize == reference.treeSize && head.rootHash == reference.rootHash && head.isSigned(by: testSigner.verifier))
        let found = try await LedgerVerifier.run(store: store, seal: Self.seal, identity: testIdentityKey.publicKey).violations
        #expect(found.map(\.kind) == [.userChanged] && found.first?.userID == 2, "only bob's row, tampered before the upgrade: \(found)")
        // Password changes now go into the chain.
        let alice = try #require(try await store.user(named: Username("alice")))
        #expect(alice.violation == nil && alice.credentialVersion == 0)
        #expect(try await store.commit([WriteRequest(nonce: nil, operation: .changePassword(userID: 1, username: alice.username, passwordHash: "hash-a2"))], nowMs: 2_000) == [.passwordChanged])
        let changed = try #require(try await store.user(named: Username("alice")))
        #expect(changed.credentialVersion == 1 && changed.violation == nil)
        #expect(try await LedgerVerifier.run(store: store, seal: Self.seal, identity: testIdentityKey.publicKey).violations.map(\.kind) == [.userChanged])
        #expect(try await store.history(ofUserID: 1, beforePosition: nil, limit: 10).map(\.position) == [1], "history shows money only")
    }

    @Test func sqliteVersion5DeploymentUpgradesWithoutLaunderingATamperedRow() async throws {
        try await withTemporaryDirectory { directory in
            let path = try SchemaFixture.sqlite(in: directory, atVersion: 5, then: Self.version5Rows())
            try await withClosing(try await SQLiteLedgerStore.open(path: path, seal: Self.seal, signer: testSigner), Self.checkUpgraded)
        }
    }

    #if MariaDB
    @Test func mariaDBVersion5DeploymentUpgradesWithoutLaunderingATamperedRow() async throws {
        // An upgrade interrupted after its first statements runs again from the start.
        let interrupted = MariaDBSchema.migrations.first { $0.version == 6 }!.statements.prefix(2)
        let location = try SchemaFixture.mariaDB(
            atVersion: 5,
            then: Self.version5Rows() + ["UPDATE ledger_head SET position = 1, chain_hash = x'\(Self.depositChainHash.hexString)' WHERE id = 1"] + interrupted)
        try await withClosing(try await MariaDBLedgerStore.open(TestStore.configuration(location), seal: Self.seal, signer: testSigner, poolSize: 2), Self.checkUpgraded)
    }
    #endif
}
