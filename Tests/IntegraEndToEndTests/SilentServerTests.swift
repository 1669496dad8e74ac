import Crypto
import Foundation
import IntegraClient
import IntegraProtocol
import IntegraTestSupport
import Testing

/// A server that accepts connections and never says a word: the client gives up after its
/// timeout with a timeout error (exit 3 in the CLI), over TLS and over plain TCP alike.
@Suite struct SilentServerTests {
    /// A listening loopback socket that nobody serves (the kernel completes the connections).
    final class SilentListener {
        let descriptor: Int32
        let port: Int

        init() throws {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                    bind(descriptor, generic, length) == 0 && listen(descriptor, 16) == 0 && getsockname(descriptor, generic, &length) == 0
                }
            }
            guard descriptor >= 0, bound else {
                close(descriptor)
                throw TestFailure("cannot listen on a loopback port")
            }
            self.descriptor = descriptor
            self.port = Int(UInt16(bigEndian: address.sin_port))
        }

        deinit { close(self.descriptor) }
    }

    @Test(arguments: [ClientConfiguration.Transport.tls, .plaintext])
    func aServerThatNeverAnswersTimesOut(transport: ClientConfiguration.Transport) async throws {
        let listener = try SilentListener()
        let configuration = ClientConfiguration(
            server: "127.0.0.1:\(listener.port)", clientKey: SymmetricKey(size: .bits256), serverIdentityKey: Curve25519.Signing.PrivateKey().publicKey,
            transport: transport, tlsPublicKeySHA256: String(repeating: "ab", count: 32))
        await #expect(throws: IntegraClientError(kind: .timeout, message: "the server did not answer in time")) {
            try await IntegraConnection.withConnection(configuration: configuration, timeoutMs: 300) { _ in }
        }
    }
}
