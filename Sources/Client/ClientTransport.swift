import Crypto
public import IntegraProtocol
public import NIOCore
import NIOSSL
import Synchronization

/// The client side of the transport: TLS 1.3 with the server's TLS public key pinned by the
/// configuration, or plain TCP when the configuration says so (loopback debugging).
///
/// The pin replaces certificate-authority validation: a deployment's server creates its own
/// self-signed certificate, and `client.json` carries the SHA-256 of its public key.
public struct ClientTransport: Sendable {
    private let context: NIOSSLContext?
    private let pin: [UInt8]?

    public init(configuration: ClientConfiguration) throws(ConfigurationError) {
        self.pin = try configuration.tlsPin()
        guard self.pin != nil else {
            self.context = nil
            return
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        tls.maximumTLSVersion = .tlsv13
        // The custom callback below replaces chain and hostname validation with the pin.
        tls.certificateVerification = .noHostnameVerification
        do {
            self.context = try NIOSSLContext(configuration: tls)
        } catch {
            throw ConfigurationError("cannot set up TLS: \(error)")
        }
    }

    public var isPlaintext: Bool { self.context == nil }

    /// Adds the TLS handler (if any) at the front of a new channel's pipeline. `pinMismatch`
    /// records whether the server presented a key other than the pinned one.
    public func addHandlers(to channel: any Channel, pinMismatch: PinMismatchFlag) throws {
        guard let context = self.context, let pin = self.pin else { return }
        let handler = try NIOSSLClientHandler(context: context, serverHostname: nil) { certificates, promise in
            guard let leaf = certificates.first, let spki = try? leaf.extractPublicKey().toSPKIBytes(),
                  Array(SHA256.hash(data: spki)) == pin
            else {
                pinMismatch.set()
                promise.succeed(.failed)
                return
            }
            promise.succeed(.certificateVerified)
        }
        try channel.pipeline.syncOperations.addHandler(handler)
    }
}

/// Set when the server's TLS key did not match the pin, to tell that apart from other failures.
public final class PinMismatchFlag: Sendable {
    private let value = Atomic<Bool>(false)

    public init() {}

    func set() { self.value.store(true, ordering: .relaxed) }

    public var isSet: Bool { self.value.load(ordering: .relaxed) }
}
