import Foundation
import IntegraLedger
@testable import IntegraSQLiteStore
import IntegraTestSupport
import Testing
#if MariaDB
@testable import IntegraMariaDBStore
#endif

/// Schema version 5 re-keyed the nonce table by (expiry, nonce), version 7 keeps new nonces by
/// (frame timestamp, nonce). Nonces recorded before must still be refused afterwards, whatever
/// timestamp a replay carries, or an upgrade would reopen the replay window.
@Suite struct NonceMigrationTests {
    static let oldNonce = NonceRecord(bytes: Array(repeating: 0xAB, count: 16), timestampMs: 4_880)
    static let newNonce = NonceRecord(bytes: Array(repeating: 0xCD, count: 16), timestampMs: 6_000)

    static func checkUpgraded(_ store: any LedgerStore) async throws {
        #expect(try await store.schemaVersion() == 8)
        let outcomes = try await store.commit([
            WriteRequest(nonce: Self.oldNonce, operation: .recordNonce),
            WriteRequest(nonce: Self.newNonce, operation: .recordNonce),
        ], nowMs: 1)
        #expect(outcomes == [.rejected(.replayedNonce), .nonceRecorded])
        #expect(try await store.pruneNonces(olderThanMs: 5_500) == 1, "the earlier record expired at 5000")
        #expect(try await store.commit([WriteRequest(nonce: Self.newNonce, operation: .recordNonce)], nowMs: 1) == [.rejected(.replayedNonce)])
    }

    @Test func sqliteNoncesRecordedBeforeTheUpgradeStayRefused() async throws {
        try await withTemporaryDirectory { directory in
            let path = try SchemaFixture.sqlite(in: directory, atVersion: 4, then: ["INSERT INTO nonces (nonce, expires_at_ms) VALUES (x'\(String(repeating: "ab", count: 16))', 5000)"])
            try await withClosing(try await SQLiteLedgerStore.open(path: path, seal: testSeal, signer: testSigner), Self.checkUpgraded)
        }
    }

    #if MariaDB
    @Test func mariaDBNoncesRecordedBeforeTheUpgradeStayRefused() async throws {
        let location = try SchemaFixture.mariaDB(atVersion: 4, then: ["INSERT INTO nonces (nonce, expires_at_ms) VALUES (x'\(String(repeating: "ab", count: 16))', 5000)"])
        try await withClosing(try await MariaDBLedgerStore.open(TestStore.configuration(location), seal: testSeal, signer: testSigner, poolSize: 2), Self.checkUpgraded)
    }
    #endif
}
