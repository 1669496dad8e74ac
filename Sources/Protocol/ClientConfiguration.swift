public import Crypto
import Foundation
public import IntegraTransparency

/// What a client needs to talk to one Integra deployment: where it is, the deployment's client
/// key and the server's pinned Ed25519 identity. The server writes it to `client.json` in its data
/// directory on first start; the file holds a secret and is created with mode 0600.
public struct ClientConfiguration: Codable, Hashable, Sendable {
    /// How the connection is carried.
    public enum Transport: String, Codable, Hashable, Sendable {
        /// TLS 1.3, with the server's TLS public key pinned by `tlsPublicKeySHA256`.
        case tls
        /// Plain TCP: frames stay integrity-checked, but passwords are readable on the wire.
        /// For loopback debugging only.
        case plaintext
    }

    /// Format version of this file.
    public var version: Int
    /// "HOST:PORT" of the server.
    public var server: String
    /// The deployment's client key, base64 (32 bytes).
    public var clientKey: String
    /// The server's Ed25519 identity public key, base64 (32 bytes).
    public var serverIdentityKey: String
    /// Accepted clock difference to the server, in seconds.
    public var replayWindowSeconds: Int
    public var transport: Transport
    /// SHA-256 (hex) of the DER SubjectPublicKeyInfo of the server's TLS certificate. Required for TLS.
    public var tlsPublicKeySHA256: String?
    /// Witnesses whose cosignatures the client counts on the tree heads it is shown, as C2SP
    /// verifier keys (`integra-witness vkey`); optional.
    public var witnesses: [String]?
    /// How many of `witnesses` must have cosigned a head before the client accepts it (0 or
    /// absent: none).
    public var witnessThreshold: Int?

    public static let currentVersion = 2

    public init(
        server: String, clientKey: SymmetricKey, serverIdentityKey: Curve25519.Signing.PublicKey,
        replayWindowSeconds: Int = 120, transport: Transport = .tls, tlsPublicKeySHA256: String? = nil
    ) {
        self.version = Self.currentVersion
        self.server = server
        self.clientKey = Data(clientKey.bytes).base64EncodedString()
        self.serverIdentityKey = serverIdentityKey.rawRepresentation.base64EncodedString()
        self.replayWindowSeconds = replayWindowSeconds
        self.transport = transport
        self.tlsPublicKeySHA256 = tlsPublicKeySHA256
    }

    /// The pinned TLS public key digest (32 bytes), or nil for plaintext.
    public func tlsPin() throws(ConfigurationError) -> [UInt8]? {
        guard self.transport == .tls else { return nil }
        guard let hex = self.tlsPublicKeySHA256, let pin = [UInt8](hexString: hex), pin.count == 32 else {
            throw ConfigurationError("tlsPublicKeySHA256 must be the 64-digit hex SHA-256 of the server's TLS public key")
        }
        return pin
    }

    private enum CodingKeys: String, CodingKey {
        case version, server, clientKey, serverIdentityKey, replayWindowSeconds, transport, tlsPublicKeySHA256, witnesses, witnessThreshold
    }

    /// The witnesses' cosignature verifiers and how many must have cosigned a head; checked.
    public func witnessPolicy() throws(ConfigurationError) -> (verifiers: [NoteVerifier], threshold: Int) {
        var verifiers: [NoteVerifier] = []
        for key in self.witnesses ?? [] {
            guard let verifier = try? NoteVerifier(verifierKey: key), verifier.signatureType == .timestampedEd25519Cosignature else {
                throw ConfigurationError("witnesses: \(key) is not a witness's verifier key (integra-witness vkey prints one)")
            }
            verifiers.append(verifier)
        }
        let threshold = self.witnessThreshold ?? 0
        guard threshold >= 0, threshold <= verifiers.count else {
            throw ConfigurationError("witnessThreshold must be 0 to the number of witnesses (\(verifiers.count))")
        }
        return (verifiers, threshold)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.version = try container.decode(Int.self, forKey: .version)
        guard self.version == Self.currentVersion else {
            throw ConfigurationError("version \(self.version) is not supported (expected \(Self.currentVersion)); copy the current client.json from the server's data directory")
        }
        self.server = try container.decode(String.self, forKey: .server)
        self.clientKey = try container.decode(String.self, forKey: .clientKey)
        self.serverIdentityKey = try container.decode(String.self, forKey: .serverIdentityKey)
        self.replayWindowSeconds = try container.decode(Int.self, forKey: .replayWindowSeconds)
        self.transport = try container.decode(Transport.self, forKey: .transport)
        self.tlsPublicKeySHA256 = try container.decodeIfPresent(String.self, forKey: .tlsPublicKeySHA256)
        self.witnesses = try container.decodeIfPresent([String].self, forKey: .witnesses)
        self.witnessThreshold = try container.decodeIfPresent(Int.self, forKey: .witnessThreshold)
    }

    /// The keys in the form the client state machine uses.
    public func stateMachineConfiguration() throws(ConfigurationError) -> ClientConnectionStateMachine.Configuration {
        guard let keyBytes = Data(base64Encoded: self.clientKey), keyBytes.count >= KeySchedule.clientKeyBytes else {
            throw ConfigurationError("clientKey must be base64 of at least \(KeySchedule.clientKeyBytes) bytes")
        }
        guard let identityBytes = Data(base64Encoded: self.serverIdentityKey),
              let identity = try? Curve25519.Signing.PublicKey(rawRepresentation: identityBytes)
        else {
            throw ConfigurationError("serverIdentityKey must be base64 of a 32-byte Ed25519 public key")
        }
        guard self.replayWindowSeconds >= 1 && self.replayWindowSeconds <= 3600 else {
            throw ConfigurationError("replayWindowSeconds must be 1 to 3600")
        }
        return ClientConnectionStateMachine.Configuration(
            clientKey: SymmetricKey(data: keyBytes), serverIdentityKey: identity,
            replayWindowMs: Int64(self.replayWindowSeconds) * 1000)
    }

    /// The server address split into host and port.
    public func hostAndPort() throws(ConfigurationError) -> (host: String, port: Int) {
        try ServerAddress.parse(self.server)
    }
}

/// A configuration or key file problem, with a message for the operator or customer.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { self.message }
}

/// Parses "HOST:PORT" and "[IPv6]:PORT".
public enum ServerAddress {
    public static func parse(_ text: String) throws(ConfigurationError) -> (host: String, port: Int) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ConfigurationError("address \(text) must be HOST:PORT") }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ConfigurationError("address \(text) must be HOST:PORT") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
            throw ConfigurationError("address \(text) must be HOST:PORT with a port from 0 to 65535")
        }
        return (String(host), port)
    }
}
