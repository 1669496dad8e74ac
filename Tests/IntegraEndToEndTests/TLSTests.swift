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
import IntegraTestSupport
import Testing

@Suite struct TLSTests {
    @Test func clientSpeaksTLS13WithThePinnedKeyByDefault() async throws {
        // The raw connection below sends no frame: keep the handshake deadline out of the way.
        try await withTestServer(configure: { $0.handshakeTimeoutMs = 600_000 }) { server in
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
    }

    @Test func clientRefusesAServerWhoseTLSKeyIsNotThePinnedOne() async throws {
        try await withTestServer { server in
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
    }

    /// A client configured for plaintext waits for a hello that a TLS server never sends in the
    /// clear; what it sends is no TLS record, and the server closes the connection without a
    /// frame (a client that sends nothing at all is closed by the handshake deadline, in
    /// `ConnectionTimerTests`).
    @Test func plaintextClientGetsNoFrameFromATLSServerAndIsClosed() async throws {
        try await withTestServer { server in
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: server.port) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
            let received = try await channel.executeThenClose { inbound, outbound in
                // What a plaintext client sends: a frame in the clear.
                try await outbound.write(ByteBuffer(bytes: [0, 0, 0, 80, 1] + Array(repeating: 7, count: 79)))
                var received = ByteBuffer()
                do {
                    for try await var chunk in inbound { received.writeBuffer(&chunk) }
                } catch {
                    // A reset connection is a closed one too.
                }
                return received
            }
            #expect((try? RawFrame(received)) == nil, "the server sent a frame in the clear")
            #expect(received.readableBytes == 0 || received.getInteger(at: received.readerIndex, as: UInt8.self) == 0x15, "at most a TLS alert: \(received.readableBytes) bytes")
        }
    }

    @Test func plaintextServesTheSameIntegrityLayerOnLoopback() async throws {
        try await withTestServer(configure: { $0.plaintext = true }) { server in
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
    }

    @Test func selfSignedKeyFileIsPrivate() async throws {
        try await withTestServer { server in
            let attributes = try FileManager.default.attributesOfItem(atPath: server.directory.appendingPathComponent("tls-key.pem").path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        }
    }

    @Test func operatorCertificateIsServedAndPinned() async throws {
        try await withTemporaryDirectory { elsewhere in
            let certificatePath = elsewhere.appendingPathComponent("server.pem").path
            let keyPath = elsewhere.appendingPathComponent("server.key").path
            try ServerTLS.createSelfSigned(certificatePath: certificatePath, keyPath: keyPath, host: "bank.example")
            let operatorPin = try ServerTLS.load(certificatePath: certificatePath, keyPath: keyPath, keyBytes: ServerTLS.readOperatorKey(keyPath)).publicKeySHA256
            try await withTestServer(configure: {
                $0.tlsCertificatePath = certificatePath
                $0.tlsKeyPath = keyPath
            }) { server in
                #expect(try server.clientConfiguration.tlsPin() == operatorPin)
                #expect(!FileManager.default.fileExists(atPath: server.directory.appendingPathComponent("tls-certificate.pem").path))
                try await server.addCustomer("alice", cents: 0)
                try await server.withClient { try await $0.login(username: "alice", password: TestServer.password) }
            }
        }
    }

    /// The TLS key is a secret like the deployment keys: the one Integra made is refused when
    /// others may read it or when a link stands in its place; an operator's key (which may sit
    /// behind a link, as certificate tools keep them) is refused when every user may read it, or
    /// when someone else owns it or may replace it in its directory.
    @Test func tlsKeysOthersMayReadOrLinksInTheDataDirectoryAreRefused() async throws {
        try await withTemporaryDirectory { directory in
            try await withTestServer(directory: directory) { _ in }
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

            try withTemporaryDirectory { elsewhere in
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
        }
    }
}
