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

    /// Loads the keys of `directory`, generating all of them if none exist yet.
    /// Returns whether they were generated (a new deployment).
    public static func loadOrCreate(in directory: String) throws(ConfigurationError) -> (keys: DeploymentKeys, created: Bool) {
        try Self.ensureDirectory(directory)
        let paths = [clientKeyFile, identityKeyFile, storageKeyFile].map { "\(directory)/\($0)" }
        let existing = paths.filter { FileManager.default.fileExists(atPath: $0) }
        if existing.isEmpty {
            let keys = DeploymentKeys(
                clientKey: SymmetricKey(size: .bits256),
                identityKey: Curve25519.Signing.PrivateKey(),
                storageKey: SymmetricKey(size: .bits256))
            try Self.writeKey(keys.clientKey.bytes, to: paths[0])
            try Self.writeKey(Array(keys.identityKey.rawRepresentation), to: paths[1])
            try Self.writeKey(keys.storageKey.bytes, to: paths[2])
            return (keys, true)
        }
        guard existing.count == paths.count else {
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
        return (DeploymentKeys(clientKey: SymmetricKey(data: clientKey), identityKey: identity, storageKey: SymmetricKey(data: storageKey)), false)
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
    public func writeClientConfiguration(in directory: String, server: String, replayWindowSeconds: Int, tlsPublicKeySHA256: [UInt8]?) throws(ConfigurationError) {
        let configuration = ClientConfiguration(
            server: server, clientKey: self.clientKey, serverIdentityKey: self.identityKey.publicKey,
            replayWindowSeconds: replayWindowSeconds, transport: tlsPublicKeySHA256 == nil ? .plaintext : .tls,
            tlsPublicKeySHA256: tlsPublicKeySHA256?.hexString)
        try configuration.write(to: "\(directory)/client.json")
    }

    private static func ensureDirectory(_ directory: String) throws(ConfigurationError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ConfigurationError("\(directory) exists and is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ConfigurationError("cannot create data directory \(directory): \(error.localizedDescription)")
        }
    }

    private static func writeKey(_ bytes: [UInt8], to path: String) throws(ConfigurationError) {
        do {
            try SecretFile.write(Data((Data(bytes).base64EncodedString() + "\n").utf8), to: path)
        } catch {
            throw ConfigurationError("cannot write key file \(path): \(error)")
        }
    }

    private static func readKey(_ path: String) throws(ConfigurationError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8),
              let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw ConfigurationError("cannot read key file \(path)")
        }
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
           let mode = attributes[.posixPermissions] as? NSNumber, mode.intValue & 0o077 != 0 {
            throw ConfigurationError("key file \(path) is readable by other users; run `chmod 600 \(path)`")
        }
        return Array(bytes)
    }
}
