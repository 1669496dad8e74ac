import Foundation
import IntegraFiles
import IntegraLedger
import IntegraMariaDBStore
import IntegraProtocol
@testable import IntegraServer
import IntegraStoreFactory
import IntegraTestSupport
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
        try withTemporaryDirectory { directory in
            let ca = directory.appendingPathComponent("ca.pem").path
            try Data("-----BEGIN CERTIFICATE-----\n".utf8).write(to: URL(fileURLWithPath: ca))
            #expect(Self.tls(try Self.mariaDB("mariadb://integra:secret@db1/integra", tls: .verifyCA, ca: ca)) == .verifyCA(certificateAuthorityPath: ca))
            #expect(Self.tls(try Self.mariaDB("mariadb://integra:secret@db1/integra", tls: .verifyIdentity, ca: ca)) == .verifyIdentity(certificateAuthorityPath: ca))
        }
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
