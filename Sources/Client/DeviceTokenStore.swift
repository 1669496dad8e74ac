import Crypto
import Foundation
import IntegraFiles
public import IntegraProtocol
import IntegraLedger

/// The device tokens the client keeps, one per deployment and customer: the server issues one
/// at each successful login, and presenting it at the next login of that customer exempts the
/// login from the lockouts that others' wrong passwords cause (docs/PROTOCOL.md, `login`).
///
/// A token lives in `devices/DEPLOYMENT/USER.token` next to the configuration file: DEPLOYMENT
/// is the hex SHA-256 of the server identity key pinned in `client.json` (so a token is only
/// ever sent to the deployment that issued it), USER the canonical name encoded by
/// `FileNameEncoding`, and the file holds the token in base64. Directories are 0700, files 0600,
/// replaced atomically and never written through a symbolic link. A missing, unreadable or
/// malformed file counts as no token.
public struct DeviceTokenStore: Sendable {
    /// `devices/DEPLOYMENT`: this deployment's tokens.
    public let directory: String
    /// The `devices` directory.
    let devicesDirectory: String

    /// The largest token file read, in bytes (base64 of the largest token the protocol carries).
    static let maximumFileBytes = 1024

    /// The store for the deployment whose identity key is `serverIdentityKey` (raw bytes), next
    /// to the configuration file at `configurationPath`.
    public init(configurationPath: String, serverIdentityKey: [UInt8]) {
        self.devicesDirectory = (ConfigurationDirectory.of(configurationPath) as NSString).appendingPathComponent("devices")
        self.directory = (self.devicesDirectory as NSString).appendingPathComponent(SHA256.hash(data: serverIdentityKey).hexString)
    }

    /// The store for the deployment `configuration` pins.
    public init(configurationPath: String, configuration: ClientConfiguration) throws(ConfigurationError) {
        let identity = try configuration.stateMachineConfiguration().serverIdentityKey
        self.init(configurationPath: configurationPath, serverIdentityKey: Array(identity.rawRepresentation))
    }

    /// The file that holds the token of the customer with this canonical name.
    public func path(canonicalName: String) -> String {
        (self.directory as NSString).appendingPathComponent(FileNameEncoding.encode(canonicalName) + ".token")
    }

    /// The kept token for a name as the customer typed it (canonicalised the way the server
    /// does); nil if there is none or the file is unusable.
    public func token(typedName: String) -> [UInt8]? {
        guard let name = try? Username(typedName) else { return nil }
        return self.token(canonicalName: name.canonical)
    }

    /// The kept token of the customer with this canonical name; nil if there is none or the
    /// file is unusable.
    public func token(canonicalName: String) -> [UInt8]? {
        guard let data = try? SecretFile.read(self.path(canonicalName: canonicalName), maximumBytes: Self.maximumFileBytes),
              let text = String(data: data, encoding: .utf8),
              let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
              (1...FieldLimits.deviceTokenBytes).contains(bytes.count)
        else { return nil }
        return Array(bytes)
    }

    /// Keeps `token` for the customer with this canonical name, replacing the earlier one.
    public func save(_ token: [UInt8], canonicalName: String) throws(ConfigurationError) {
        guard (1...FieldLimits.deviceTokenBytes).contains(token.count) else {
            throw ConfigurationError("a device token of \(token.count) bytes is not kept")
        }
        let deploymentDirectory = try PrivateDirectory.ensureChild((self.directory as NSString).lastPathComponent, of: self.devicesDirectory)
        let path = try PrivateDirectory.childPath(FileNameEncoding.encode(canonicalName) + ".token", of: deploymentDirectory)
        do {
            try SecretFile.write(Data((Data(token).base64EncodedString() + "\n").utf8), to: path)
        } catch {
            throw ConfigurationError("cannot keep the device token in \(path): \(error)")
        }
    }
}

extension IntegraConnection {
    /// Logs in presenting the device token kept for this customer, and keeps the new token the
    /// server returns. A token that cannot be kept is reported through `keepFailed` and does
    /// not fail the login.
    @discardableResult
    public func login(
        username: String, password: String, deviceTokens: DeviceTokenStore, keepFailed: (ConfigurationError) -> Void
    ) async throws -> (username: String, balance: String) {
        let session = try await self.login(username: username, password: password, deviceToken: deviceTokens.token(typedName: username))
        if let token = session.deviceToken {
            do {
                try deviceTokens.save(token, canonicalName: session.username)
            } catch {
                keepFailed(error)
            }
        }
        return (session.username, session.balance)
    }
}
