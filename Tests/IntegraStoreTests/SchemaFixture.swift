import Foundation
import IntegraServer
@testable import IntegraSQLiteStore
import IntegraTestSupport
#if MariaDB
@testable import IntegraMariaDBStore
import IntegraStoreFactory
#endif

/// Databases at an older schema version, as an existing deployment has them, for upgrade tests:
/// the migrations up to `version` applied by hand, then `statements`.
enum SchemaFixture {
    /// A new SQLite file at `version` in `directory`; returns its path.
    static func sqlite(in directory: URL, atVersion version: Int64, then statements: [String]) throws -> String {
        let path = directory.path + "/v\(version).sqlite"
        let database = try SQLiteConnection(path: path, busyTimeoutMs: 1_000, creating: true)
        try database.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for migration in SQLiteSchema.migrations where migration.version <= version {
            for statement in migration.statements { try database.execute(statement) }
            try database.execute("INSERT INTO schema_version (version) VALUES (\(migration.version))")
        }
        for statement in statements { try database.execute(statement) }
        return path
    }

    #if MariaDB
    /// A new MariaDB database at `version`.
    static func mariaDB(atVersion version: Int64, then statements: [String]) throws -> MariaDBConfiguration {
        let location = try TestStore.freshMariaDB()
        let connection = try MariaDBConnection(TestStore.configuration(location))
        try connection.execute("CREATE TABLE schema_version (version BIGINT NOT NULL PRIMARY KEY) \(MariaDBSchema.tableOptions)")
        try connection.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
        for migration in MariaDBSchema.migrations where migration.version <= version {
            for statement in migration.statements { try connection.execute(statement) }
            try connection.execute("INSERT INTO schema_version (version) VALUES (\(migration.version))")
        }
        for statement in statements { try connection.execute(statement) }
        return location
    }
    #endif
}
