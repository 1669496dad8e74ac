public import Crypto
public import Foundation

/// What a client needs to talk to one Integra deployment: where it is, the deployment's client
/// key and the server's pinned Ed25519 identity. The server writes it to `client.json` in its data
/// directory on first start; the file holds a secret and is created with mode 0600.
public struct ClientConfiguration: Codable, Hashable, Sendable {
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

    public init(server: String, clientKey: SymmetricKey, serverIdentityKey: Curve25519.Signing.PublicKey, replayWindowSeconds: Int = 120) {
        self.version = 1
        self.server = server
        self.clientKey = Data(clientKey.bytes).base64EncodedString()
        self.serverIdentityKey = serverIdentityKey.rawRepresentation.base64EncodedString()
        self.replayWindowSeconds = replayWindowSeconds
    }

    /// Reads and checks a configuration file.
    public static func load(from path: String) throws(ConfigurationError) -> ClientConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError("cannot read client configuration \(path)")
        }
        let configuration: ClientConfiguration
        do {
            configuration = try JSONDecoder().decode(ClientConfiguration.self, from: data)
        } catch {
            throw ConfigurationError("client configuration \(path) is not valid: \(error)")
        }
        _ = try configuration.stateMachineConfiguration()
        return configuration
    }

    /// Writes the file with mode 0600 (it holds the client key).
    public func write(to path: String) throws(ConfigurationError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            let data = try encoder.encode(self) + Data("\n".utf8)
            try SecretFile.write(data, to: path)
        } catch {
            throw ConfigurationError("cannot write client configuration \(path): \(error)")
        }
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

/// Writes files that hold secrets: created with mode 0600 before any byte is written.
public enum SecretFile {
    public static func write(_ data: Data, to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ConfigurationError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fchmod(descriptor, 0o600) == 0 else { throw ConfigurationError("cannot set mode 0600 on \(path)") }
        try data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                guard written > 0 else { throw ConfigurationError("cannot write \(path): \(String(cString: strerror(errno)))") }
                offset += written
            }
        }
        guard fsync(descriptor) == 0 else { throw ConfigurationError("cannot sync \(path)") }
    }
}
