public import Crypto
import Foundation
public import IntegraProtocol

/// The secrets of one deployment, each in its own file of the data directory with mode 0600:
/// `client.key` (shared with customers' clients), `identity.key` (the server's Ed25519 signing
/// key) and `storage.key` (for record MACs). Generated on first start, never in the repository.
public struct DeploymentKeys: Sendable {
    public let clientKey: SymmetricKey
    public let identityKey: Curve25519.Signing.PrivateKey
    public let storageKey: SymmetricKey

    public init(clientKey: SymmetricKey, identityKey: Curve25519.Signing.PrivateKey, storageKey: SymmetricKey) {
        self.clientKey = clientKey
        self.identityKey = identityKey
        self.storageKey = storageKey
    }

    static let clientKeyFile = "client.key"
    static let identityKeyFile = "identity.key"
    static let storageKeyFile = "storage.key"

    /// Loads the keys of `directory`, generating all of them if none exist yet (only `run` may
    /// create a deployment). Returns whether they were generated.
    public static func loadOrCreate(in directory: String) throws(ConfigurationError) -> (keys: DeploymentKeys, created: Bool) {
        try DataDirectory.prepare(directory)
        let paths = Self.paths(in: directory)
        if paths.allSatisfy({ !DataDirectory.entryExists($0) }) {
            let keys = DeploymentKeys(
                clientKey: SymmetricKey(size: .bits256),
                identityKey: Curve25519.Signing.PrivateKey(),
                storageKey: SymmetricKey(size: .bits256))
            try Self.writeKey(keys.clientKey.bytes, to: paths[0])
            try Self.writeKey(Array(keys.identityKey.rawRepresentation), to: paths[1])
            try Self.writeKey(keys.storageKey.bytes, to: paths[2])
            return (keys, true)
        }
        return (try Self.load(paths: paths, directory: directory), false)
    }

    /// Loads the keys of an existing deployment; never creates anything.
    public static func load(in directory: String) throws -> DeploymentKeys {
        guard DataDirectory.entryExists(directory) else { throw DeploymentMissing(directory: directory) }
        try DataDirectory.check(directory)
        let paths = Self.paths(in: directory)
        guard paths.contains(where: DataDirectory.entryExists) else { throw DeploymentMissing(directory: directory) }
        return try Self.load(paths: paths, directory: directory)
    }

    /// Whether `directory` holds any key file (a deployment, or the remains of one).
    public static func exist(in directory: String) -> Bool {
        Self.paths(in: directory).contains(where: DataDirectory.entryExists)
    }

    private static func paths(in directory: String) -> [String] {
        [clientKeyFile, identityKeyFile, storageKeyFile].map { "\(directory)/\($0)" }
    }

    private static func load(paths: [String], directory: String) throws(ConfigurationError) -> DeploymentKeys {
        guard paths.allSatisfy(DataDirectory.entryExists) else {
            throw ConfigurationError("data directory \(directory) has some key files but not all of \(paths.joined(separator: ", "))")
        }
        let clientKey = try Self.readKey(paths[0])
        let identityBytes = try Self.readKey(paths[1])
        let storageKey = try Self.readKey(paths[2])
        guard clientKey.count >= KeySchedule.clientKeyBytes, storageKey.count >= 32,
              let identity = try? Curve25519.Signing.PrivateKey(rawRepresentation: identityBytes)
        else {
            throw ConfigurationError("a key file in \(directory) does not hold a valid key")
        }
        return DeploymentKeys(clientKey: SymmetricKey(data: clientKey), identityKey: identity, storageKey: SymmetricKey(data: storageKey))
    }

    /// Identifies the deployment without revealing a secret: SHA-256 over the identity public key
    /// and MACs of fixed labels under the client and storage keys. Stores remember it so that
    /// instances with other keys can't join the same database.
    public var fingerprint: [UInt8] {
        var hash = SHA256()
        hash.update(data: Array("integra/1 deployment".utf8))
        hash.update(data: self.identityKey.publicKey.rawRepresentation)
        hash.update(data: Array(HMAC<SHA256>.authenticationCode(for: Array("integra/1 client key".utf8), using: self.clientKey)))
        hash.update(data: Array(HMAC<SHA256>.authenticationCode(for: Array("integra/1 storage key".utf8), using: self.storageKey)))
        return Array(hash.finalize())
    }

    /// Writes `client.json` for customers' clients: address, client key, server identity, and
    /// the TLS key pin (nil: plaintext).
    public func writeClientConfiguration(
        in directory: String, server: String, replayWindowSeconds: Int, tlsPublicKeySHA256: [UInt8]?, witnesses: [String] = [], witnessThreshold: Int = 0
    ) throws(ConfigurationError) {
        var configuration = ClientConfiguration(
            server: server, clientKey: self.clientKey, serverIdentityKey: self.identityKey.publicKey,
            replayWindowSeconds: replayWindowSeconds, transport: tlsPublicKeySHA256 == nil ? .plaintext : .tls,
            tlsPublicKeySHA256: tlsPublicKeySHA256?.hexString)
        if !witnesses.isEmpty {
            configuration.witnesses = witnesses
            configuration.witnessThreshold = witnessThreshold
        }
        try configuration.write(to: "\(directory)/client.json")
    }

    private static func writeKey(_ bytes: [UInt8], to path: String) throws(ConfigurationError) {
        do {
            try SecretFile.create(Data((Data(bytes).base64EncodedString() + "\n").utf8), at: path)
        } catch {
            throw ConfigurationError("cannot write key file \(path): \(error)")
        }
    }

    private static func readKey(_ path: String) throws(ConfigurationError) -> [UInt8] {
        let data: Data?
        do {
            data = try SecretFile.read(path, maximumBytes: 4096)
        } catch {
            throw ConfigurationError("key file: \(error)")
        }
        guard let data, let text = String(data: data, encoding: .utf8),
              let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw ConfigurationError("cannot read key file \(path)")
        }
        return Array(bytes)
    }
}

/// A data directory that holds no deployment: an admin command was pointed at the wrong place
/// (only `integra-server run` creates a deployment).
public struct DeploymentMissing: Error, CustomStringConvertible {
    public let directory: String

    public var description: String {
        "\(self.directory) holds no Integra deployment (no keys); check --data-dir, or start `integra-server run --data-dir \(self.directory)` once to create one"
    }
}
