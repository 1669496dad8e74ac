public import Crypto
import Foundation
import IntegraFiles
public import IntegraTransparency
public import IntegraProtocol

/// The witness's own identity: an Ed25519 key and its name, in `witness.key` (mode 0600) in the
/// data directory. `init` creates it once and nothing ever overwrites it: a witness with a new key
/// is a new witness, whose cosignatures clients must be told to count.
///
/// The file holds one line in the form of golang.org/x/mod/sumdb/note private keys, with the
/// cosignature type: `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x04 ‖ 32-byte seed)>`.
public struct WitnessKey: Sendable {
    /// The key file's name in the data directory.
    public static let fileName = "witness.key"

    /// Signs the witness's cosignatures (c2sp.org/tlog-cosignature, type 0x04).
    public let cosigner: WitnessCosigner
    private let privateKey: Curve25519.Signing.PrivateKey

    /// The witness's key named `keyName`; throws unless the name is a valid key name.
    public init(keyName: String, privateKey: Curve25519.Signing.PrivateKey) throws(ConfigurationError) {
        do {
            self.cosigner = try WitnessCosigner(keyName: keyName, privateKey: privateKey)
        } catch {
            throw ConfigurationError("the witness's name \"\(keyName)\" is not a key name: \(error.witnessMessage)")
        }
        self.privateKey = privateKey
    }

    /// What clients configure to count this witness: its vkey, `<name>+<hex key ID>+<base64(0x04 ‖ public key)>`.
    public var verifier: NoteVerifier { self.cosigner.verifier }

    /// Creates a new key named `keyName` in `directory`, and the directory (mode 0700) if there is
    /// none; throws, having created nothing, if the name is not a key name, and if a key file (or
    /// anything) is already there.
    public static func create(in directory: String, keyName: String) throws(ConfigurationError) -> WitnessKey {
        let path = Self.path(in: directory)
        let key = try WitnessKey(keyName: keyName, privateKey: Curve25519.Signing.PrivateKey())
        try DataDirectory.prepare(directory)
        guard !DataDirectory.entryExists(path) else {
            throw ConfigurationError("\(path) already exists; a witness's key is never overwritten (a new key makes a new witness)")
        }
        do {
            try SecretFile.create(Data(key.fileText.utf8), at: path)
        } catch {
            throw ConfigurationError("cannot write the witness key \(path): \(error)")
        }
        return key
    }

    /// Loads the key of the witness in `directory`.
    public static func load(from directory: String) throws(ConfigurationError) -> WitnessKey {
        let path = Self.path(in: directory)
        let data: Data?
        do {
            data = try SecretFile.read(path, maximumBytes: 4096)
        } catch {
            throw ConfigurationError("cannot read the witness key: \(error)")
        }
        guard let data else {
            throw ConfigurationError("\(directory) holds no witness key (\(Self.fileName)); create one with `integra-witness init --data-dir \(directory) --name NAME`")
        }
        do {
            return try WitnessKey(fileText: String(decoding: data, as: UTF8.self))
        } catch {
            throw ConfigurationError("\(path): \(error.message)")
        }
    }

    /// Parses the key file's text (one line, an optional final newline).
    init(fileText: String) throws(ConfigurationError) {
        let line = fileText.hasSuffix("\n") ? Array(fileText.utf8.dropLast()) : Array(fileText.utf8)
        let parts = line.split(separator: UInt8(ascii: "+"), maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].elementsEqual("PRIVATE".utf8), parts[1].elementsEqual("KEY".utf8) else {
            throw ConfigurationError("not a witness key: expected PRIVATE+KEY+<name>+<key ID>+<key>")
        }
        guard let keyBytes = CanonicalBase64.decode(parts[4]), keyBytes.count == 33,
              keyBytes[0] == NoteSignatureType.timestampedEd25519Cosignature.rawValue,
              let privateKey = try? Curve25519.Signing.PrivateKey(rawRepresentation: keyBytes.dropFirst())
        else {
            throw ConfigurationError("not a witness key: the key is not base64 of the type 0x04 and a 32-byte Ed25519 seed")
        }
        try self.init(keyName: String(decoding: parts[2], as: UTF8.self), privateKey: privateKey)
        guard parts[3].elementsEqual(Self.hexKeyID(self.verifier.keyID).utf8) else {
            throw ConfigurationError("not a witness key: the key ID does not match the name and key")
        }
    }

    /// The key file's text.
    var fileText: String {
        let seed = [NoteSignatureType.timestampedEd25519Cosignature.rawValue] + Array(self.privateKey.rawRepresentation)
        return "PRIVATE+KEY+\(self.verifier.keyName)+\(Self.hexKeyID(self.verifier.keyID))+\(CanonicalBase64.encode(seed))\n"
    }

    static func path(in directory: String) -> String {
        "\(directory)/\(Self.fileName)"
    }

    /// Eight lowercase hex digits, as verifier keys write key IDs.
    private static func hexKeyID(_ keyID: UInt32) -> String {
        (0..<4).map { UInt8(truncatingIfNeeded: keyID >> (24 - 8 * UInt32($0))) }.hexString
    }
}
