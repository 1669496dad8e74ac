import Foundation
package import IntegraLedger
package import IntegraTransparency
import IntegraVerifier
import IntegraProtocol
@testable import IntegraServer
import SQLiteNIO
#if MariaDB
@testable import IntegraMariaDBStore
#endif

/// What someone with database access does behind a running server's back, and what `verify`
/// then finds: shared by the tamper tests (store tier) and the fail-closed attacks (end to end).
package enum Tampering {
    package static func hex(_ bytes: [UInt8]) -> String { "X'\(bytes.hexString)'" }

    /// Runs SQL on the server's database behind its back.
    package static func tamper(_ server: TestServer, _ statements: String...) async throws {
        try await Self.tamper(server, statements)
    }

    /// Runs SQL statements on one connection to the server's database behind its back.
    package static func tamper(_ server: TestServer, _ statements: [String]) async throws {
        switch server.database {
        case nil:
            let connection = try await SQLiteConnection.open(storage: .file(path: server.directory.appendingPathComponent("integra.sqlite").path))
            for statement in statements { _ = try await connection.query(statement) }
            try await connection.close()
        case .mariadb(let location)?:
            #if MariaDB
            let connection = try MariaDBConnection(TestStore.configuration(location))
            for statement in statements { try connection.execute(statement) }
            #else
            _ = location
            #endif
        case .sqlite?:
            throw TestFailure("unexpected SQLite location")
        }
    }

    /// Recomputes every stored chain hash from the (tampered) contents, as an attacker with
    /// database access could; only the MACs and signatures stay out of reach.
    package static func rechain(_ server: TestServer) async throws {
        var previous = LedgerSeal.genesisHash
        var statements: [String] = []
        for sealed in try await server.store.sealedEntries(afterPosition: 0, limit: 1_000) {
            previous = LedgerSeal.chainHash(previous: previous, entry: sealed.entry)
            statements.append("UPDATE entries SET chain_hash = \(Self.hex(previous)) WHERE position = \(sealed.entry.position)")
        }
        if server.database != nil { statements.append("UPDATE ledger_head SET chain_hash = \(Self.hex(previous)) WHERE id = 1") }
        for statement in statements { try await Self.tamper(server, statement) }
    }

    /// What verify finds, read through the store's page reader. The same must be found whatever
    /// the page size, and through the general path (`sealedEntries`), which `CountingStore` takes
    /// because it has no page reader of its own; a difference is a failure.
    package static func violations(_ server: TestServer) async throws -> [IntegrityViolation] {
        let found = try await Self.violations(server, store: server.store, pageSize: 2)
        for pageSize in [1, 3, 1_000] {
            let again = try await Self.violations(server, store: server.store, pageSize: pageSize)
            guard again == found else { throw TestFailure("page size \(pageSize) finds \(again), page size 2 finds \(found)") }
        }
        let general = try await Self.violations(server, store: CountingStore(base: server.store), pageSize: 2)
        guard general == found else { throw TestFailure("through sealedEntries verify finds \(general), through the page reader \(found)") }
        return found
    }

    static func violations(_ server: TestServer, store: any LedgerStore, pageSize: Int) async throws -> [IntegrityViolation] {
        let keys = server.deployment.keys
        return try await LedgerVerifier.run(
            store: store, seal: LedgerSeal(storageKey: keys.storageKey),
            anchor: Self.anchor(server),
            isAuthentic: { Checkpointer.isAuthentic($0, identity: keys.identityKey.publicKey) },
            identity: keys.identityKey.publicKey,
            pageSize: pageSize
        ).violations
    }

    /// The anchor in the server's data directory, if it holds a readable one.
    package static func anchor(_ server: TestServer) -> LedgerCheckpoint? {
        guard case .present(let anchor) = Checkpointer.loadAnchor(dataDirectory: server.directory.path) else { return nil }
        return anchor
    }

    package static func userID(_ name: String, _ server: TestServer) async throws -> Int64 {
        guard let user = try await server.store.user(named: Username(name)) else { throw TestFailure("no user \(name)") }
        return user.id
    }
}

/// Counts how many store transactions were used.
package final class CountingStore: LedgerStore {
    let base: any LedgerStore
    package let commits = Counter()

    package init(base: any LedgerStore) { self.base = base }

    package func commit(_ requests: [WriteRequest], nowMs: Int64) async throws(LedgerError) -> [WriteOutcome] {
        await self.commits.increment()
        return try await self.base.commit(requests, nowMs: nowMs)
    }
    package func user(named username: Username) async throws(LedgerError) -> UserRecord? { try await self.base.user(named: username) }
    package func account(ofUserID userID: Int64) async throws(LedgerError) -> AccountEvidence? { try await self.base.account(ofUserID: userID) }
    package func sealedHistory(ofUserID userID: Int64, beforePosition: Int64?, limit: Int) async throws(LedgerError) -> [EntryEvidence] {
        try await self.base.sealedHistory(ofUserID: userID, beforePosition: beforePosition, limit: limit)
    }
    package func entry(at position: Int64) async throws(LedgerError) -> EntryEvidence? { try await self.base.entry(at: position) }
    package func recordAlarm(_ alarm: AlarmRecord) async throws(LedgerError) { try await self.base.recordAlarm(alarm) }
    package func alarms(limit: Int) async throws(LedgerError) -> [SealedAlarm] { try await self.base.alarms(limit: limit) }
    package func forgetVerifiedRows() async { await self.base.forgetVerifiedRows() }
    package func rememberVerified(latestPositions: [(userID: Int64, position: Int64)], firstMissingPosition: Int64?) async {
        await self.base.rememberVerified(latestPositions: latestPositions, firstMissingPosition: firstMissingPosition)
    }
    package func pruneNonces(olderThanMs: Int64) async throws(LedgerError) -> Int { try await self.base.pruneNonces(olderThanMs: olderThanMs) }
    package func setting(_ setting: Setting) async throws(LedgerError) -> Int64? { try await self.base.setting(setting) }
    package func record(_ setting: Setting, _ value: Int64, onlyRaise: Bool) async throws(LedgerError) -> Int64 { try await self.base.record(setting, value, onlyRaise: onlyRaise) }
    package func summary() async throws(LedgerError) -> LedgerSummary { try await self.base.summary() }
    package func schemaVersion() async throws(LedgerError) -> Int64 { try await self.base.schemaVersion() }
    package func sealedEntries(afterPosition: Int64, limit: Int) async throws(LedgerError) -> [SealedEntry] { try await self.base.sealedEntries(afterPosition: afterPosition, limit: limit) }
    package func sealedAccounts() async throws(LedgerError) -> [SealedAccount] { try await self.base.sealedAccounts() }
    package func head() async throws(LedgerError) -> (position: Int64, chainHash: [UInt8]) { try await self.base.head() }
    package func recordCheckpoint(_ checkpoint: LedgerCheckpoint) async throws(LedgerError) { try await self.base.recordCheckpoint(checkpoint) }
    package func checkpoints() async throws(LedgerError) -> [LedgerCheckpoint] { try await self.base.checkpoints() }
    package func sealedUsers() async throws(LedgerError) -> [SealedUser] { try await self.base.sealedUsers() }
    package func verifiedTree() async -> VerifiedTree? { await self.base.verifiedTree() }
    package func latestTreeHead() async throws(LedgerError) -> SignedTreeHead? { try await self.base.latestTreeHead() }
    package func treeHeads(afterTreeSize: UInt64, limit: Int) async throws(LedgerError) -> [SignedTreeHead] {
        try await self.base.treeHeads(afterTreeSize: afterTreeSize, limit: limit)
    }
    package func treeNodes(_ ids: [MerkleNodeID]) async throws(LedgerError) -> [MerkleNodeID: [UInt8]] { try await self.base.treeNodes(ids) }
    package func bindDeployment(fingerprint: [UInt8]) async throws(LedgerError) { try await self.base.bindDeployment(fingerprint: fingerprint) }
    package func close() async { await self.base.close() }
}

package actor Counter {
    package var value = 0
    package func increment() { self.value += 1 }
}
