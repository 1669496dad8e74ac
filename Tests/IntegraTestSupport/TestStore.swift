package import Crypto
import Foundation
package import IntegraLedger
import IntegraSQLiteStore
package import IntegraStoreFactory
package import Logging
import SQLiteNIO
#if MariaDB
@testable package import IntegraMariaDBStore
#else
package import IntegraMariaDBStore
#endif

/// The stores the suites run against: SQLite always; MariaDB when built with the MariaDB trait,
/// in which case `INTEGRA_TEST_MARIADB_URL` must point at a running server (scripts/test starts
/// one). A MariaDB build without it fails rather than skipping.
package enum TestStore: String, CustomStringConvertible, Sendable, CaseIterable {
    case sqlite
    case mariadb

    package static var all: [TestStore] {
        #if MariaDB
        let built: [TestStore] = [.sqlite, .mariadb]
        #else
        let built: [TestStore] = [.sqlite]
        #endif
        // INTEGRA_TEST_STORES=sqlite (or mariadb) narrows a local run, e.g. to time one store.
        guard let only = ProcessInfo.processInfo.environment["INTEGRA_TEST_STORES"], !only.isEmpty else { return built }
        let wanted = Set(only.split(separator: ",").map(String.init))
        return built.filter { wanted.contains($0.rawValue) }
    }

    package var description: String { self.rawValue }

    /// A new, empty database for one test (nil: the SQLite file in the data directory).
    package func freshLocation() throws -> DatabaseLocation? {
        switch self {
        case .sqlite:
            return nil
        case .mariadb:
            return .mariadb(try Self.freshMariaDB())
        }
    }

    package static func mariaDBBase() throws -> MariaDBConfiguration {
        guard let url = ProcessInfo.processInfo.environment["INTEGRA_TEST_MARIADB_URL"], !url.isEmpty else {
            throw TestFailure("INTEGRA_TEST_MARIADB_URL is not set: run the MariaDB suite through scripts/test")
        }
        guard case .mariadb(let location) = try DatabaseLocation.parse(url) else { throw TestFailure("not a MariaDB URL: \(url)") }
        return location
    }

    /// Creates `integra_t<random>` next to the configured database and returns its location.
    package static func freshMariaDB() throws -> MariaDBConfiguration {
        var location = try Self.mariaDBBase()
        location.database = "integra_t" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        #if MariaDB
        let connection = try MariaDBConnection(Self.configuration(location, database: try Self.mariaDBBase().database))
        try connection.execute("CREATE DATABASE \(location.database) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        #endif
        return location
    }

    #if MariaDB
    package static func configuration(_ location: MariaDBConfiguration, database: String? = nil) -> MariaDBConfiguration {
        var configuration = location
        if let database { configuration.database = database }
        return configuration
    }
    #endif

    /// Runs `body` on a new, empty store of this kind opened directly (no server), then closes
    /// it and removes its files, also when `body` throws.
    package func withNewStore<T>(_ body: (any LedgerStore) async throws -> T) async throws -> T {
        try await self.withNewStorage { storage in try await withClosing(try await storage.open(), body) }
    }

    /// Runs `body` with new, empty storage of this kind, which `body` may open more than once
    /// (to reopen a store); removes its files afterwards.
    package func withNewStorage<T>(_ body: (StoreUnderTest) async throws -> T) async throws -> T {
        switch self {
        case .sqlite:
            return try await withTemporaryDirectory { directory in
                try await body(.sqlite(path: directory.path + "/ledger.sqlite"))
            }
        case .mariadb:
            #if MariaDB
            return try await body(.mariadb(try Self.freshMariaDB()))
            #else
            throw TestFailure("MariaDB is not in this build")
            #endif
        }
    }
}

/// A store under test, on storage of its own; `open` opens it (again), `openLogging` with a
/// logger, and `sql` runs statements on the database behind the store's back.
package struct StoreUnderTest: CustomStringConvertible, Sendable {
    package let description: String
    package let openLogging: @Sendable (Logger) async throws -> any LedgerStore
    package let sql: @Sendable ([String]) async throws -> Void

    package func open() async throws -> any LedgerStore {
        try await self.openLogging(Logger(label: "integra.test"))
    }

    static func sqlite(path: String) -> StoreUnderTest {
        StoreUnderTest(
            description: "sqlite",
            openLogging: { logger in try await SQLiteLedgerStore.open(path: path, seal: testSeal, signer: testSigner, logger: logger) },
            sql: { statements in
                let connection = try await SQLiteConnection.open(storage: .file(path: path))
                do {
                    for statement in statements { _ = try await connection.query(statement) }
                } catch {
                    try await connection.close()
                    throw error
                }
                try await connection.close()
            })
    }

    #if MariaDB
    static func mariadb(_ location: MariaDBConfiguration) -> StoreUnderTest {
        StoreUnderTest(
            description: "mariadb",
            openLogging: { logger in
                try await MariaDBLedgerStore.open(TestStore.configuration(location), seal: testSeal, signer: testSigner, poolSize: 4, logger: logger)
            },
            sql: { statements in
                let connection = try MariaDBConnection(TestStore.configuration(location))
                for statement in statements { try connection.execute(statement) }
            })
    }
    #endif
}

/// A log handler that keeps every message it is given, for tests that check what an operator
/// is told.
package final class CapturedLog: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] = []
    package var logLevel: Logger.Level = .trace
    package var metadata: Logger.Metadata = [:]

    package init() {}

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        self.lock.withLock { self.messages.append((event.level, "\(event.message)", event.metadata ?? [:])) }
    }

    /// A logger that writes here.
    package var logger: Logger {
        Logger(label: "integra.test") { _ in self }
    }

    /// Every message so far, with its level and metadata.
    package var entries: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] {
        self.lock.withLock { self.messages }
    }
}

/// Runs `body` on `store`, then closes the store, also when `body` throws.
package func withClosing<T>(_ store: any LedgerStore, _ body: (any LedgerStore) async throws -> T) async throws -> T {
    do {
        let result = try await body(store)
        await store.close()
        return result
    } catch {
        await store.close()
        throw error
    }
}

/// The row seal the store tests use.
package let testSeal = LedgerSeal(storageKey: SymmetricKey(data: Array(repeating: UInt8(5), count: 32)))

/// The tree head signer the store tests use.
package let testIdentityKey = try! Curve25519.Signing.PrivateKey(rawRepresentation: Array(repeating: UInt8(7), count: 32))
package let testSigner = TreeHeadSigner(identityKey: testIdentityKey)
