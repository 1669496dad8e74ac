public import Crypto
import Foundation
import IntegraFiles
public import IntegraProtocol
public import IntegraTransparency

/// The newest tree head the client has verified for a deployment: at every login the server
/// must prove that its current head extends it, so a ledger rolled back or forked after this
/// client saw it is refused (`docs/PROTOCOL.md`, `tree_proof`).
///
/// It lives in `heads/DEPLOYMENT.note` next to the configuration file (DEPLOYMENT: the hex
/// SHA-256 of the pinned identity key), holding the signed note as the server sent it; the
/// directory is 0700, the file 0600, replaced atomically. It is checked against the pinned key
/// again when read; a missing file means no head seen yet.
public struct TreeHeadStore: Sendable {
    /// `heads/DEPLOYMENT.note`.
    public let path: String
    let headsDirectory: String
    private let identity: Curve25519.Signing.PublicKey

    public init(configurationPath: String, identity: Curve25519.Signing.PublicKey) {
        self.identity = identity
        self.headsDirectory = (ConfigurationDirectory.of(configurationPath) as NSString).appendingPathComponent("heads")
        self.path = (self.headsDirectory as NSString).appendingPathComponent(SHA256.hash(data: identity.rawRepresentation).hexString + ".note")
    }

    /// The kept head, checked against the pinned key; nil if none was kept. A file that is
    /// there but does not hold a head the key signed is an error: the client can no longer
    /// tell what it saw, and says so instead of forgetting it.
    public func latest() throws(ConfigurationError) -> (checkpoint: TreeCheckpoint, note: [UInt8])? {
        guard FileManager.default.fileExists(atPath: self.path) else { return nil }
        let note: [UInt8]
        do {
            note = Array(try SecretFile.read(self.path, maximumBytes: FieldLimits.treeHeadBytes) ?? Data())
        } catch {
            throw ConfigurationError("cannot read the kept tree head \(self.path): \(error)")
        }
        guard let checkpoint = try? TreeCheckpoint.opening(note, logVerifier: TreeHeadKey.verifier(identity: self.identity)) else {
            throw ConfigurationError("\(self.path) does not hold a tree head signed by the pinned server; restore it, or remove it to trust the server's next head")
        }
        return (checkpoint, note)
    }

    /// Keeps `note` (already verified) as the newest head seen.
    public func save(_ note: [UInt8]) throws(ConfigurationError) {
        try PrivateDirectory.ensure(self.headsDirectory)
        let path = try PrivateDirectory.childPath((self.path as NSString).lastPathComponent, of: self.headsDirectory)
        do {
            try SecretFile.write(Data(note), to: path)
        } catch {
            throw ConfigurationError("cannot keep the tree head in \(path): \(error)")
        }
    }
}
