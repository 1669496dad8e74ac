import Foundation
import IntegraLedger
@testable import IntegraServer
#if MariaDB
@testable import IntegraMariaDBStore
import IntegraStoreFactory
#endif

/// The stores the suites run against: SQLite always; MariaDB when built with the MariaDB trait,
/// in which case `INTEGRA_TEST_MARIADB_URL` must point at a running server (scripts/test starts
/// one). A MariaDB build without it fails rather than skipping.
enum TestStore: String, CustomStringConvertible, Sendable, CaseIterable {
    case sqlite
    case mariadb

    static var all: [TestStore] {
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

    var description: String { self.rawValue }

    /// A new, empty database for one test (nil: the SQLite file in the data directory).
    func freshLocation() throws -> DatabaseLocation? {
        switch self {
        case .sqlite:
            return nil
        case .mariadb:
            return .mariadb(try Self.freshMariaDB())
        }
    }

    static func mariaDBBase() throws -> MariaDBConfiguration {
        guard let url = ProcessInfo.processInfo.environment["INTEGRA_TEST_MARIADB_URL"], !url.isEmpty else {
            throw TestFailure("INTEGRA_TEST_MARIADB_URL is not set: run the MariaDB suite through scripts/test")
        }
        guard case .mariadb(let location) = try DatabaseLocation.parse(url) else { throw TestFailure("not a MariaDB URL: \(url)") }
        return location
    }

    /// Creates `integra_t<random>` next to the configured database and returns its location.
    static func freshMariaDB() throws -> MariaDBConfiguration {
        var location = try Self.mariaDBBase()
        location.database = "integra_t" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        #if MariaDB
        let connection = try MariaDBConnection(Self.configuration(location, database: try Self.mariaDBBase().database))
        try connection.execute("CREATE DATABASE \(location.database) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        #endif
        return location
    }

    #if MariaDB
    static func configuration(_ location: MariaDBConfiguration, database: String? = nil) -> MariaDBConfiguration {
        var configuration = location
        if let database { configuration.database = database }
        return configuration
    }
    #endif
}
