package import Crypto
import Foundation
package import IntegraLedger
import IntegraSQLiteStore
package import IntegraStoreFactory
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

/// A store under test, on storage of its own; `open` opens it (again).
package struct StoreUnderTest: CustomStringConvertible, Sendable {
    package let description: String
    package let open: @Sendable () async throws -> any LedgerStore

    static func sqlite(path: String) -> StoreUnderTest {
        StoreUnderTest(description: "sqlite") { try await SQLiteLedgerStore.open(path: path, seal: testSeal, signer: testSigner) }
    }

    #if MariaDB
    static func mariadb(_ location: MariaDBConfiguration) -> StoreUnderTest {
        StoreUnderTest(description: "mariadb") {
            try await MariaDBLedgerStore.open(TestStore.configuration(location), seal: testSeal, signer: testSigner, poolSize: 4)
        }
    }
    #endif
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
