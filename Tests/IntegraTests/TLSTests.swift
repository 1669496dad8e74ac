import Crypto
import Foundation
import IntegraClient
import IntegraFiles
import IntegraLedger
@testable import IntegraProtocol
@testable import IntegraServer
import NIOCore
import NIOPosix
import NIOSSL
import Testing

@Suite struct TLSTests {
    @Test func clientSpeaksTLS13WithThePinnedKeyByDefault() async throws {
        // The raw connection below sends no frame: keep the handshake deadline out of the way.
        let server = try await TestServer.start { $0.handshakeTimeoutMs = 600_000 }
        defer { Task { await server.stop() } }
        let configuration = try server.clientConfiguration
        #expect(configuration.transport == .tls)
        let certificate = try #require(try NIOSSLCertificate.fromPEMFile(server.directory.appendingPathComponent("tls-certificate.pem").path).first)
        let pin = Array(SHA256.hash(data: try certificate.extractPublicKey().toSPKIBytes()))
        #expect(try configuration.tlsPin() == pin)

        let channel = try await server.connectRaw()
        let version = try await channel.executeThenClose { inbound, _ in
            var frames = inbound.makeAsyncIterator()
            let hello = try await frames.next()  // the hello arrives only after the TLS handshake
            #expect(hello != nil)
            return try await channel.channel.nioSSL_tlsVersion().get()
        }
        #expect(version == .tlsv13)

        try await server.addCustomer("alice", cents: 100)
        try await server.withClient { client in
            try await client.login(username: "alice", password: TestServer.password)
            #expect(try await client.balance() == "1.00")
        }
    }

    @Test func clientRefusesAServerWhoseTLSKeyIsNotThePinnedOne() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        var configuration = try server.clientConfiguration
        configuration.tlsPublicKeySHA256 = Array(SHA256.hash(data: Array("another key".utf8))).hexString
        do {
            try await IntegraConnection.withConnection(configuration: configuration, server: server.address, timeoutMs: 5_000) { _ in }
            Issue.record("a server with an unpinned TLS key was trusted")
        } catch let error as IntegraClientError {
            #expect(error.kind == .untrustedReply)
            #expect(error.message.contains("TLS key does not match"))
        }
    }

    @Test func plaintextClientGetsNothingFromATLSServerAndIsClosedAfterTheHandshakeTimeout() async throws {
        let server = try await TestServer.start { $0.handshakeTimeoutMs = 500 }
        defer { Task { await server.stop() } }
        var configuration = try server.clientConfiguration
        configuration.transport = .plaintext
        await #expect(throws: IntegraClientError.self) {
            try await IntegraConnection.withConnection(configuration: configuration, server: server.address, timeoutMs: 5_000) { _ in }
        }
    }

    @Test func plaintextServesTheSameIntegrityLayerOnLoopback() async throws {
        let server = try await TestServer.start { $0.plaintext = true }
        defer { Task { await server.stop() } }
        let configuration = try server.clientConfiguration
        #expect(configuration.transport == .plaintext)
        #expect(try configuration.tlsPin() == nil)
        try await server.addCustomer("alice", cents: 500)
        try await server.addCustomer("bob", cents: 0)
        try await server.withClient { client in
            try await client.login(username: "alice", password: TestServer.password)
            #expect(try await client.transfer(to: "bob", amount: "2.50", transferID: "p1").balanceAfter == "2.50")
        }
    }

    @Test func plaintextIsRefusedOnAnAddressOtherThanLoopback() {
        var configuration = ServerConfiguration()
        configuration.plaintext = true
        configuration.host = "0.0.0.0"
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        configuration.host = "127.0.0.1"
        #expect(throws: Never.self) { try configuration.validate() }
    }

    @Test func selfSignedKeyFileIsPrivate() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let attributes = try FileManager.default.attributesOfItem(atPath: server.directory.appendingPathComponent("tls-key.pem").path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func operatorCertificateIsServedAndPinned() async throws {
        let elsewhere = TemporaryDirectory.make()
        let certificatePath = elsewhere.appendingPathComponent("server.pem").path
        let keyPath = elsewhere.appendingPathComponent("server.key").path
        try ServerTLS.createSelfSigned(certificatePath: certificatePath, keyPath: keyPath, host: "bank.example")
        let operatorPin = try ServerTLS.load(certificatePath: certificatePath, keyPath: keyPath, keyBytes: ServerTLS.readOperatorKey(keyPath)).publicKeySHA256
        let server = try await TestServer.start {
            $0.tlsCertificatePath = certificatePath
            $0.tlsKeyPath = keyPath
        }
        defer { Task { await server.stop() } }
        #expect(try server.clientConfiguration.tlsPin() == operatorPin)
        #expect(!FileManager.default.fileExists(atPath: server.directory.appendingPathComponent("tls-certificate.pem").path))
        try await server.addCustomer("alice", cents: 0)
        try await server.withClient { try await $0.login(username: "alice", password: TestServer.password) }
    }

    /// The TLS key is a secret like the deployment keys: the one Integra made is refused when
    /// others may read it or when a link stands in its place; an operator's key (which may sit
    /// behind a link, as certificate tools keep them) is refused when every user may read it.
    @Test func tlsKeysOthersMayReadOrLinksInTheDataDirectoryAreRefused() async throws {
        let directory = TemporaryDirectory.make()
        let server = try await TestServer.start(directory: directory)
        await server.stop()
        let keyPath = directory.appendingPathComponent("tls-key.pem").path
        var configuration = ServerConfiguration()
        configuration.dataDirectory = directory.path
        #expect(throws: Never.self) { _ = try ServerTLS.load(configuration) }
        chmod(keyPath, 0o644)
        #expect { _ = try ServerTLS.load(configuration) } throws: { "\($0)".contains("readable or writable by other users") }
        chmod(keyPath, 0o600)
        let moved = directory.appendingPathComponent("elsewhere.pem").path
        try FileManager.default.moveItem(atPath: keyPath, toPath: moved)
        try FileManager.default.createSymbolicLink(atPath: keyPath, withDestinationPath: moved)
        #expect { _ = try ServerTLS.load(configuration) } throws: { "\($0)".contains("symbolic link") }

        let elsewhere = TemporaryDirectory.make()
        let certificatePath = elsewhere.appendingPathComponent("server.pem").path
        let operatorKey = elsewhere.appendingPathComponent("server.key").path
        try ServerTLS.createSelfSigned(certificatePath: certificatePath, keyPath: operatorKey, host: "bank.example")
        let linked = elsewhere.appendingPathComponent("live.key").path
        try FileManager.default.createSymbolicLink(atPath: linked, withDestinationPath: operatorKey)
        configuration.tlsCertificatePath = certificatePath
        configuration.tlsKeyPath = linked
        chmod(operatorKey, 0o640)
        #expect(throws: Never.self) { _ = try ServerTLS.load(configuration) }
        chmod(operatorKey, 0o644)
        #expect { _ = try ServerTLS.load(configuration) } throws: { "\($0)".contains("may be read by every user") }
        chmod(operatorKey, 0o600)
        // A directory others may write to: they could put their own key in its place.
        chmod(elsewhere.path, 0o777)
        #expect { _ = try ServerTLS.load(configuration) } throws: { "\($0)".contains("may replace files") }
        chmod(elsewhere.path, 0o1777)
        #expect(throws: Never.self, "a sticky directory keeps others from renaming the key") { _ = try ServerTLS.load(configuration) }
        chmod(elsewhere.path, 0o755)
        if geteuid() == 0 {
            chown(operatorKey, 65_534, 65_534)
            #expect { _ = try ServerTLS.load(configuration) } throws: { "\($0)".contains("belongs to another user") }
            chown(operatorKey, 0, 0)
            chown(elsewhere.path, 65_534, 65_534)
            #expect { _ = try ServerTLS.load(configuration) } throws: { "\($0)".contains("belongs to another user") }
            chown(elsewhere.path, 0, 0)
        }
        #expect(throws: Never.self) { _ = try ServerTLS.load(configuration) }
    }

    @Test func clientConfigurationFromBeforeTLSIsRefusedWithAClearMessage() throws {
        let directory = TemporaryDirectory.make()
        let path = directory.appendingPathComponent("client.json").path
        let old = #"{"version":1,"server":"127.0.0.1:8080","clientKey":"AAAA","serverIdentityKey":"AAAA","replayWindowSeconds":120}"#
        try Data(old.utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try ClientConfiguration.load(from: path)
        } throws: { error in
            (error as? ConfigurationError)?.message.contains("copy the current client.json") == true
        }
    }
}
