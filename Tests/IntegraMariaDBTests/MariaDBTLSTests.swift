#if MariaDB
import Foundation
import IntegraLedger
@testable import IntegraMariaDBStore
import IntegraStoreFactory
import IntegraTestSupport
import Testing

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
        try await withClosing(try await MariaDBLedgerStore.open(TestStore.configuration(location), seal: testSeal, signer: testSigner, poolSize: 2)) { store in
            let outcome = try await store.commit([WriteRequest(nonce: nil, operation: .createUser(username: try Username("tls"), passwordHash: "!"))], nowMs: 1)
            guard case .userCreated? = outcome.first else { throw TestFailure("\(outcome)") }
            #expect(try await store.schemaVersion() == MariaDBSchema.migrations.last?.version)
        }
    }

    @Test func aStoreThatCannotHaveItsTLSModeIsUnavailable() async throws {
        var location = try Self.server()
        location.tls = .verifyCA(certificateAuthorityPath: try Self.certificateAuthority("other-ca.pem"))
        do {
            let store = try await MariaDBLedgerStore.open(TestStore.configuration(location), seal: testSeal, signer: testSigner, poolSize: 1)
            await store.close()
            Issue.record("a store opened over a connection whose certificate does not verify")
        } catch {
            guard case .storeUnavailable(let detail) = error else { throw error }
            #expect(detail.contains("--database-tls verify-ca"), "\(detail)")
        }
    }
}
#endif
