public import Crypto
import Foundation
public import NIOCore

/// The pair of MAC keys of a connection phase, one per direction.
public struct TrafficKeys: Sendable {
    public let clientToServer: SymmetricKey
    public let serverToClient: SymmetricKey

    public init(clientToServer: SymmetricKey, serverToClient: SymmetricKey) {
        self.clientToServer = clientToServer
        self.serverToClient = serverToClient
    }

    /// The key for frames travelling in `direction`.
    public func key(for direction: Direction) -> SymmetricKey {
        switch direction {
        case .clientToServer: self.clientToServer
        case .serverToClient: self.serverToClient
        }
    }
}

/// How every key of the protocol is derived (see docs/PROTOCOL.md, "Keys").
public enum KeySchedule {
    /// The deployment's client key has at least this many bytes.
    public static let clientKeyBytes = 32

    static let preLoginSalt = Array("integra/1 prelogin".utf8)
    static let preLoginInfoClientToServer = Array("integra/1 prelogin c2s".utf8)
    static let preLoginInfoServerToClient = Array("integra/1 prelogin s2c".utf8)
    static let sessionInfoClientToServer = Array("integra/1 session c2s".utf8)
    static let sessionInfoServerToClient = Array("integra/1 session s2c".utf8)
    static let transcriptContext = Array("integra/1 login transcript".utf8)
    static let signatureContext = Array("integra/1 login signature".utf8)

    /// Keys for frames before login: HKDF-SHA256 of the deployment's client key.
    public static func preLoginKeys(clientKey: SymmetricKey) -> TrafficKeys {
        precondition(clientKey.bitCount >= clientKeyBytes * 8, "the client key has at least 256 bits")
        return TrafficKeys(
            clientToServer: HKDF<SHA256>.deriveKey(
                inputKeyMaterial: clientKey, salt: preLoginSalt, info: preLoginInfoClientToServer, outputByteCount: 32),
            serverToClient: HKDF<SHA256>.deriveKey(
                inputKeyMaterial: clientKey, salt: preLoginSalt, info: preLoginInfoServerToClient, outputByteCount: 32))
    }

    /// SHA-256 over the exact bytes of `hello` and `login` and the server's ephemeral public key.
    public static func transcriptHash(helloFrame: ByteBuffer, loginFrame: ByteBuffer, serverEphemeralPublicKey: [UInt8]) -> [UInt8] {
        var hash = SHA256()
        hash.update(data: transcriptContext)
        for frame in [helloFrame, loginFrame] {
            var length = UInt32(frame.readableBytes).bigEndian
            withUnsafeBytes(of: &length) { hash.update(bufferPointer: $0) }
            frame.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
        }
        hash.update(data: serverEphemeralPublicKey)
        return Array(hash.finalize())
    }

    /// What the server signs with its Ed25519 identity key at login.
    public static func signaturePayload(transcriptHash: [UInt8]) -> [UInt8] {
        signatureContext + transcriptHash
    }

    /// The X25519 shared secret with a peer's public key share, refusing a share that does not
    /// contribute: one that is not 32 bytes, or a low-order point (0, 1, p−1, p, p+1, the points of
    /// order 8, ...) whose shared secret is all zeros, which anyone on the path could compute
    /// (RFC 7748 §6.1). The check runs in constant time.
    public static func sharedSecret(_ privateKey: Curve25519.KeyAgreement.PrivateKey, peerPublicKey: [UInt8]) throws(ProtocolError) -> SharedSecret {
        guard peerPublicKey.count == 32,
              let peer = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: peerPublicKey),
              let shared = try? privateKey.sharedSecretFromKeyAgreement(with: peer)
        else {
            throw ProtocolError(.malformedMessage, "the ephemeral key is not an X25519 key")
        }
        let zero = shared.withUnsafeBytes { bytes in bytes.reduce(UInt8(0)) { $0 | $1 } } == 0
        guard !zero else { throw ProtocolError(.malformedMessage, "the ephemeral key does not contribute to the shared secret") }
        return shared
    }

    /// Session keys: HKDF-SHA256 of the X25519 shared secret, salted with the transcript hash.
    public static func sessionKeys(sharedSecret: SharedSecret, transcriptHash: [UInt8]) -> TrafficKeys {
        let secret = sharedSecret.withUnsafeBytes { SymmetricKey(data: $0) }
        return TrafficKeys(
            clientToServer: HKDF<SHA256>.deriveKey(
                inputKeyMaterial: secret, salt: transcriptHash, info: sessionInfoClientToServer, outputByteCount: 32),
            serverToClient: HKDF<SHA256>.deriveKey(
                inputKeyMaterial: secret, salt: transcriptHash, info: sessionInfoServerToClient, outputByteCount: 32))
    }
}

extension SymmetricKey {
    /// The key's bytes, for key files and test vectors.
    public var bytes: [UInt8] { self.withUnsafeBytes { Array($0) } }
}
