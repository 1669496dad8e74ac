import Foundation
import IntegraFiles
import IntegraLedger
#if MariaDB
@testable import IntegraMariaDBStore
#else
import IntegraMariaDBStore
#endif
import IntegraProtocol
@testable import IntegraServer
import IntegraStoreFactory
import Testing

/// `--database-tls` and `--database-ca` as configuration: the defaults per host and the
/// combinations that are refused before anything connects.
@Suite struct DatabaseTLSConfigurationTests {
    static func mariaDB(_ url: String, tls mode: DatabaseTLS.Mode? = nil, ca: String? = nil) throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.database = try DatabaseLocation.parse(url)
        try configuration.database!.setTLS(mode: mode, certificateAuthorityPath: ca)
        return configuration
    }

    static func tls(_ configuration: ServerConfiguration) -> DatabaseTLS? {
        guard case .mariadb(let location)? = configuration.database else { return nil }
        return location.tls
    }

    static func refusal(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: ["db1", "10.0.0.5", "db.example.com", "127.example.com", "::2"])
    func aHostOffLoopbackDefaultsToRequired(host: String) throws {
        let configuration = try Self.mariaDB("mariadb://integra:secret@\(host.contains(":") ? "[\(host)]" : host):3306/integra")
        #expect(Self.tls(configuration) == .required)
    }

    @Test(arguments: ["127.0.0.1", "127.1.2.3", "localhost", "[::1]"])
    func aLoopbackHostDefaultsToClearTextUnlessAsked(host: String) throws {
        #expect(Self.tls(try Self.mariaDB("mariadb://integra:secret@\(host):3306/integra")) == .disabled)
        #expect(Self.tls(try Self.mariaDB("mariadb://integra:secret@\(host):3306/integra", tls: .required)) == .required)
    }

    @Test func clearTextIsAllowedOffLoopbackWhenAskedFor() throws {
        #expect(Self.tls(try Self.mariaDB("mariadb://integra:secret@db1/integra", tls: .disabled)) == .disabled)
    }

    @Test func verifyingModesCarryTheirCAFile() throws {
        let ca = TemporaryDirectory.make().appendingPathComponent("ca.pem").path
        try Data("-----BEGIN CERTIFICATE-----\n".utf8).write(to: URL(fileURLWithPath: ca))
        #expect(Self.tls(try Self.mariaDB("mariadb://integra:secret@db1/integra", tls: .verifyCA, ca: ca)) == .verifyCA(certificateAuthorityPath: ca))
        #expect(Self.tls(try Self.mariaDB("mariadb://integra:secret@db1/integra", tls: .verifyIdentity, ca: ca)) == .verifyIdentity(certificateAuthorityPath: ca))
    }

    @Test func aVerifyingModeWithoutACAFileIsRefused() {
        for mode in [DatabaseTLS.Mode.verifyCA, .verifyIdentity] {
            let message = Self.refusal { _ = try Self.mariaDB("mariadb://integra:secret@db1/integra", tls: mode) }
            #expect(message == "--database-tls \(mode.rawValue) needs --database-ca FILE, the PEM certificate of the CA that signed MariaDB's certificate")
        }
        let unreadable = Self.refusal { _ = try Self.mariaDB("mariadb://integra:secret@db1/integra", tls: .verifyCA, ca: "/nonexistent/ca.pem") }
        #expect(unreadable == "cannot read the database CA file /nonexistent/ca.pem")
    }

    @Test func aCAFileWithoutAVerifyingModeIsRefused() {
        let ca = "/etc/integra/db-ca.pem"
        let asked = Self.refusal { _ = try Self.mariaDB("mariadb://integra:secret@db1/integra", tls: .required, ca: ca) }
        #expect(asked == "--database-ca is used only by --database-tls verify-ca or verify-identity, not required")
        let byDefault = Self.refusal { _ = try Self.mariaDB("mariadb://integra:secret@127.0.0.1/integra", ca: ca) }
        #expect(byDefault == "--database-ca is used only by --database-tls verify-ca or verify-identity, not disabled")
    }

    @Test func databaseTLSOptionsAreRefusedForSQLite() {
        for database in [nil, DatabaseLocation.sqlite(path: "/tmp/integra.sqlite")] {
            var configuration = ServerConfiguration()
            configuration.database = database
            var location = configuration.databaseLocation
            let message = Self.refusal { try location.setTLS(mode: .required, certificateAuthorityPath: nil) }
            #expect(message == "--database-tls and --database-ca apply to a MariaDB store only; this store is SQLite")
            let caOnly = Self.refusal { try location.setTLS(mode: nil, certificateAuthorityPath: "/etc/integra/db-ca.pem") }
            #expect(caOnly == message)
        }
        var untouched = ServerConfiguration().databaseLocation
        #expect(Self.refusal { try untouched.setTLS(mode: nil, certificateAuthorityPath: nil) } == "accepted")
    }

    @Test func theLoggedStoreNamesItsTLSModeAndNoPassword() throws {
        let configuration = try Self.mariaDB("mariadb://integra:secret@db1:3306/integra")
        #expect(configuration.databaseLocation.redacted == "mariadb://integra@db1:3306/integra (tls: required)")
    }
}

#if MariaDB
/// libmariadb's CR_SSL_CONNECTION_ERROR and MariaDB's ER_ACCESS_DENIED_ERROR.
private let tlsConnectionError: UInt32 = 2026
private let accessDenied: UInt32 = 1045

/// Connections to a MariaDB that accepts TLS only (scripts/mariadb start-tls): each mode gets
/// what it promises or no connection at all. The server's certificate names localhost and
/// 127.0.0.1; it also listens on 127.0.0.2, a name the certificate does not carry.
@Suite struct MariaDBTLSTests {
    /// The TLS-only server's location (loopback, so `disabled` until a test says otherwise).
    static func server() throws -> MariaDBConfiguration {
        guard let url = ProcessInfo.processInfo.environment["INTEGRA_TEST_MARIADB_TLS_URL"], !url.isEmpty else {
            throw TestFailure("INTEGRA_TEST_MARIADB_TLS_URL is not set: run the MariaDB suite through scripts/test")
        }
        guard case .mariadb(let location) = try DatabaseLocation.parse(url) else { throw TestFailure("not a MariaDB URL: \(url)") }
        return location
    }

    /// The CA that signed the server's certificate, and an unrelated one beside it.
    static func certificateAuthority(_ name: String = "ca.pem") throws -> String {
        guard let path = ProcessInfo.processInfo.environment["INTEGRA_TEST_MARIADB_TLS_CA"], !path.isEmpty else {
            throw TestFailure("INTEGRA_TEST_MARIADB_TLS_CA is not set: run the MariaDB suite through scripts/test")
        }
        return URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(name).path
    }

    static func connect(host: String = "127.0.0.1", _ tls: DatabaseTLS) throws -> MariaDBConnection {
        var location = try Self.server()
        location.host = host
        location.tls = tls
        return try MariaDBConnection(TestStore.configuration(location))
    }

    static func failure(_ body: () throws -> Void) -> MariaDBError? {
        do {
            try body()
            return nil
        } catch {
            return error as? MariaDBError
        }
    }

    @Test func verifyCAWithTheRightCAConnectsEncrypted() throws {
        let ca = try Self.certificateAuthority()
        #expect(try !Self.connect(.verifyCA(certificateAuthorityPath: ca)).sessionCipher().isEmpty)
        // verify-ca checks the signature, not the name: 127.0.0.2 is not in the certificate.
        #expect(try !Self.connect(host: "127.0.0.2", .verifyCA(certificateAuthorityPath: ca)).sessionCipher().isEmpty)
    }

    @Test func verifyCAWithAnotherCAIsRefused() throws {
        let other = try Self.certificateAuthority("other-ca.pem")
        let error = Self.failure { _ = try Self.connect(.verifyCA(certificateAuthorityPath: other)) }
        #expect(error?.number == tlsConnectionError, "\(String(describing: error))")
        #expect(error?.message.hasPrefix("cannot connect to 127.0.0.1:") == true, "\(String(describing: error))")
    }

    @Test func verifyIdentityRefusesACertificateForAnotherName() throws {
        let ca = try Self.certificateAuthority()
        let error = Self.failure { _ = try Self.connect(host: "127.0.0.2", .verifyIdentity(certificateAuthorityPath: ca)) }
        #expect(error?.number == tlsConnectionError, "\(String(describing: error))")
    }

    @Test func verifyIdentityAcceptsTheCertificatesOwnName() throws {
        let ca = try Self.certificateAuthority()
        #expect(try !Self.connect(host: "127.0.0.1", .verifyIdentity(certificateAuthorityPath: ca)).sessionCipher().isEmpty)
    }

    @Test func requiredConnectsEncryptedWithoutCheckingTheCertificate() throws {
        #expect(try !Self.connect(host: "127.0.0.2", .required).sessionCipher().isEmpty)
    }

    @Test func disabledIsRefusedByAServerThatRequiresTLS() throws {
        let error = Self.failure { _ = try Self.connect(.disabled) }
        // MariaDB 10.11 answers a clear-text login under require_secure_transport with "access
        // denied"; the same user and password log in over TLS.
        #expect(error?.number == accessDenied, "\(String(describing: error))")
        #expect(try !Self.connect(.required).sessionCipher().isEmpty)
    }

    /// libmariadb 3.3 with MYSQL_OPT_SSL_ENFORCE logs in in clear text when the server offers no
    /// TLS; the session check is what refuses it.
    @Test func encryptedModesRefuseAServerWithoutTLS() throws {
        var plain = try TestStore.mariaDBBase()
        for tls in [DatabaseTLS.required, .verifyCA(certificateAuthorityPath: try Self.certificateAuthority())] {
            plain.tls = tls
            let message = Self.failure { _ = try MariaDBConnection(TestStore.configuration(plain)) }?.message ?? "connected"
            // Refused after the login by the session check, or before it by a libmariadb that checks.
            #expect(message.contains("the session is not encrypted") || message.contains("SSL is required"), "\(message)")
        }
    }

    @Test func aStoreRunsOverVerifyIdentity() async throws {
        var location = try Self.server()
        location.tls = .verifyIdentity(certificateAuthorityPath: try Self.certificateAuthority())
        location.database = "integra_tls" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        try MariaDBConnection(TestStore.configuration(location, database: try Self.server().database))
            .execute("CREATE DATABASE \(location.database) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        let store = try await MariaDBLedgerStore.open(TestStore.configuration(location), seal: testSeal, poolSize: 2)
        defer { Task { await store.close() } }
        let outcome = try await store.commit([WriteRequest(nonce: nil, operation: .createUser(username: try Username("tls"), passwordHash: "!"))], nowMs: 1)
        guard case .userCreated? = outcome.first else { throw TestFailure("\(outcome)") }
        #expect(try await store.schemaVersion() == MariaDBSchema.migrations.last?.version)
    }

    @Test func aStoreThatCannotHaveItsTLSModeIsUnavailable() async throws {
        var location = try Self.server()
        location.tls = .verifyCA(certificateAuthorityPath: try Self.certificateAuthority("other-ca.pem"))
        do {
            let store = try await MariaDBLedgerStore.open(TestStore.configuration(location), seal: testSeal, poolSize: 1)
            await store.close()
            Issue.record("a store opened over a connection whose certificate does not verify")
        } catch {
            guard case .storeUnavailable(let detail) = error else { throw error }
            #expect(detail.contains("--database-tls verify-ca"), "\(detail)")
        }
    }
}
#endif
