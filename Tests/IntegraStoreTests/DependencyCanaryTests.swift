import IntegraLedger
@testable import IntegraSQLiteStore
@testable import IntegraVerifier
import Testing
#if MariaDB
import IntegraMariaDBStore
#endif

/// Integra imports two modules its dependencies build but do not offer as products: sqlite-nio's
/// `VaporCSQLite` (only in Sources/Stores/SQLite/SQLiteCAPI.swift) and swift-crypto's
/// `CCryptoBoringSSL` (only in Sources/Verifier/EntrySealHasher.swift). An upgrade may rename or
/// drop either; these tests say so plainly instead of letting the store or verify misbehave.
@Suite struct DependencyCanaryTests {
    /// The store's SQL needs RETURNING (3.35) and connections used on several threads, one at a time.
    @Test func bundledSQLiteIsOneTheStoreCanUse() {
        #expect(
            SQLiteCAPI.libraryVersionNumber >= 3_035_000,
            "sqlite-nio now bundles SQLite \(SQLiteCAPI.libraryVersionNumber), older than 3.35: the store's SQL needs RETURNING (see SQLiteCAPI.swift)")
        #expect(SQLiteCAPI.isThreadSafe, "sqlite-nio's bundled SQLite is built single-threaded; the store uses connections on thread pools (see SQLiteCAPI.swift)")
    }

    /// Every call `SQLiteCAPI` re-exposes, through the store's own wrappers, on a database in memory.
    @Test func sqliteCAPIBindsStepsAndReadsEveryKindOfValueTheStoreUses() throws {
        let connection = try SQLiteConnection(path: ":memory:", busyTimeoutMs: 10, creating: true)
        defer { connection.close() }
        try connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, number, name TEXT, bytes BLOB, absent)")
        let insert = try connection.prepare("INSERT INTO t (id, number, name, bytes, absent) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id")
        for (id, bytes) in [(Int64(1), [UInt8]([1, 2, 3])), (2, [])] {
            defer { insert.reset() }
            try insert.bind(.integer(id), .integer(Int64.min), .text("z\u{F6}e"), .blob(bytes), .null)
            #expect(try insert.step())
            #expect(try insert.int64(0, "id") == id)
            #expect(try insert.run() == 1)
        }
        var rows: [(Int64, String, [UInt8]?, Bool)] = []
        try connection.run("SELECT number, name, bytes, absent FROM t ORDER BY id") { (row) throws(LedgerError) in
            rows.append((try row.int64(0, "number"), try row.text(1, "name"), row.blob(2), row.isNull(3)))
        }
        #expect(rows.count == 2)
        #expect(rows.map(\.0) == [Int64.min, Int64.min] && rows.map(\.1) == ["z\u{F6}e", "z\u{F6}e"])
        #expect(rows.map(\.2) == [[1, 2, 3], []] && rows.map(\.3) == [true, true])
        #expect(try connection.run("UPDATE t SET number = 2.75 WHERE id = 1") == 1)
        #expect(try connection.run("UPDATE t SET number = '41' || '2' WHERE id = 2") == 1)
        var converted: [Int64?] = []
        try connection.run("SELECT number FROM t ORDER BY id") { row in converted.append(row.optionalConvertedInt64(0)) }
        #expect(converted == [2, 412])
        #expect(throws: LedgerError.self) { try connection.execute("SELECT * FROM missing") }
        #expect(try connection.checkpointPassively().walFrames <= 0, "an in-memory database has no WAL")
    }

    /// verify reads both stores through their own page readers, not one `SealedEntry` per row.
    @Test func bothStoresFillVerifyPagesStraightFromTheirRows() {
        func fillsPages(_ store: Any.Type) -> Bool { store is any SealedEntryPageSource.Type }
        #expect(fillsPages(SQLiteLedgerStore.self))
        #if MariaDB
        #expect(fillsPages(MariaDBLedgerStore.self))
        #endif
    }

    /// On Linux swift-crypto runs on BoringSSL and verify hashes through it directly; without the
    /// module it would fall back to swift-crypto's API, correct but slower (about half the speed
    /// in paired verify runs).
    @Test func verifyHashesThroughBoringSSLWhereSwiftCryptoRunsOnIt() {
        #if os(Linux)
        #expect(
            EntrySealHasher.hashesThroughBoringSSL,
            "swift-crypto no longer exposes its module CCryptoBoringSSL: verify now hashes through swift-crypto's API; see EntrySealHasher.swift")
        #endif
    }
}
