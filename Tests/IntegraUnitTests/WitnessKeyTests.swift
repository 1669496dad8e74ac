import Crypto
import Foundation
import IntegraTransparency
import IntegraProtocol
import IntegraTestSupport
@testable import IntegraWitness
import Testing

/// The witness's key file: created once with mode 0600 in a 0700 directory, read back as the same
/// key, never overwritten, and refused when damaged.
@Suite struct WitnessKeyTests {
    static func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test func aCreatedKeyReadsBackAsTheSameKeyFromAPrivateFile() throws {
        try withTemporaryDirectory { parent in
            let directory = parent.appendingPathComponent("witness").path
            let created = try WitnessKey.create(in: directory, keyName: "witness.example/w1")
            let loaded = try WitnessKey.load(from: directory)
            #expect(loaded.verifier == created.verifier)
            #expect(loaded.verifier.signatureType == .timestampedEd25519Cosignature)
            #expect(try NoteVerifier(verifierKey: created.verifier.verifierKey) == created.verifier)
            #expect(try Self.mode(directory) == 0o700)
            #expect(try Self.mode("\(directory)/\(WitnessKey.fileName)") == 0o600)
        }
    }

    @Test func anExistingKeyIsNeverOverwritten() throws {
        try withTemporaryDirectory { directory in
            let first = try WitnessKey.create(in: directory.path, keyName: "witness.example/w1")
            #expect(throws: ConfigurationError.self) { try WitnessKey.create(in: directory.path, keyName: "witness.example/w2") }
            #expect(try WitnessKey.load(from: directory.path).verifier == first.verifier)
        }
    }

    @Test func aNameThatIsNoKeyNameCreatesNothing() {
        withTemporaryDirectory { parent in
            let directory = parent.appendingPathComponent("witness").path
            for name in ["", "witness example", "witness+example"] {
                #expect(throws: ConfigurationError.self, "\(name)") { try WitnessKey.create(in: directory, keyName: name) }
            }
            #expect(!FileManager.default.fileExists(atPath: directory))
        }
    }

    /// A seed of 0xFB bytes encodes with "+" in its base64, which also separates the file's fields.
    @Test func aKeyWhoseBase64HoldsAPlusReadsBack() throws {
        let key = try WitnessKey(keyName: "witness.example/w1", privateKey: Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 0xFB, count: 32)))
        #expect(key.fileText.split(separator: "+").count > 5)
        #expect(try WitnessKey(fileText: key.fileText).verifier == key.verifier)
    }

    @Test func aDamagedKeyFileIsRefused() throws {
        let key = try WitnessKey(keyName: "witness.example/w1", privateKey: Curve25519.Signing.PrivateKey())
        let parts = key.fileText.dropLast().split(separator: "+", maxSplits: 4).map(String.init)
        var logTypeKey = try #require(Data(base64Encoded: parts[4]))
        logTypeKey[0] = NoteSignatureType.ed25519.rawValue
        let damaged = [
            "PUBLIC+KEY+\(parts[2])+\(parts[3])+\(parts[4])",
            "PRIVATE+KEY+witness.example/w2+\(parts[3])+\(parts[4])",
            "PRIVATE+KEY+\(parts[2])+00000000+\(parts[4])",
            "PRIVATE+KEY+\(parts[2])+\(parts[3])+\(logTypeKey.base64EncodedString())",
            "PRIVATE+KEY+\(parts[2])+\(parts[3])+\(parts[4].dropLast(4))",
            "PRIVATE+KEY+\(parts[2])+\(parts[3])",
            "",
        ]
        for text in damaged {
            #expect(throws: ConfigurationError.self, "\(text)") { try WitnessKey(fileText: text) }
        }
    }

    @Test func aLogKeyMustBeACheckpointKey() throws {
        let log = try NoteSigner(keyName: "bank.example/integra", privateKey: Curve25519.Signing.PrivateKey())
        #expect(try WitnessConfiguration.logVerifier(verifierKey: log.verifier.verifierKey) == log.verifier)
        let witness = try WitnessCosigner(keyName: "witness.example/w1", privateKey: Curve25519.Signing.PrivateKey())
        for text in [witness.verifier.verifierKey, "bank.example/integra", String(log.verifier.verifierKey.dropLast(2))] {
            #expect(throws: ConfigurationError.self, "\(text)") { try WitnessConfiguration.logVerifier(verifierKey: text) }
        }
    }
}
