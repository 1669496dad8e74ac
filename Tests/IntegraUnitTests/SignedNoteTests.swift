import IntegraProtocol
import Crypto
import IntegraFuzzHarness
@testable import IntegraLedger
@testable import IntegraTransparency
import Testing

/// Checks C2SP signed notes, checkpoints, verifier keys and cosignatures byte for byte against
/// `docs/merkle-vectors.json` (an independent Python implementation), and that hostile notes are
/// refused without a trap.
@Suite struct SignedNoteTests {
    static let vectors = MerkleVectors.shared.notes

    static func privateKey(_ seedHex: String) throws -> Curve25519.Signing.PrivateKey {
        try Curve25519.Signing.PrivateKey(rawRepresentation: MerkleVectors.bytes(seedHex))
    }

    static func logSigner() throws -> NoteSigner {
        try NoteSigner(keyName: Self.vectors.keys.log.name, privateKey: Self.privateKey(Self.vectors.keys.log.seed))
    }

    static func cosigner(_ witness: Int) throws -> WitnessCosigner {
        let key = Self.vectors.keys.witnesses[witness]
        return try WitnessCosigner(keyName: key.name, privateKey: Self.privateKey(key.seed))
    }

    static func hexKeyID(_ keyID: UInt32) -> String {
        let digits = String(keyID, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    @Test func keyIDsAndVerifierKeysMatch() throws {
        let log = try Self.logSigner().verifier
        #expect(log.publicKeyBytes == MerkleVectors.bytes(Self.vectors.keys.log.public_key))
        #expect(Self.hexKeyID(log.keyID) == Self.vectors.keys.log.key_id)
        #expect(log.verifierKey == Self.vectors.keys.log.verifier_key)
        #expect(try NoteVerifier(verifierKey: log.verifierKey) == log)
        for (index, key) in Self.vectors.keys.witnesses.enumerated() {
            let witness = try Self.cosigner(index).verifier
            #expect(witness.signatureType == .timestampedEd25519Cosignature)
            #expect(Self.hexKeyID(witness.keyID) == key.key_id)
            #expect(witness.verifierKey == key.verifier_key)
            #expect(try NoteVerifier(verifierKey: key.verifier_key) == witness)
        }
        for verifierKey in Self.vectors.accepted_verifier_keys {
            #expect(try NoteVerifier(verifierKey: verifierKey) == log, "the key ID's hex digits may be uppercase")
        }
    }

    @Test func checkpointsAreFormattedSignedAndParsedByteForByte() throws {
        let signer = try Self.logSigner()
        for vector in Self.vectors.checkpoints {
            let checkpoint = try TreeCheckpoint(
                origin: Self.vectors.keys.log.name, treeSize: vector.tree_size, rootHash: MerkleVectors.bytes(vector.root),
                extensionLines: vector.extension_lines)
            #expect(checkpoint.text == vector.text)
            #expect(try TreeCheckpoint(text: vector.text) == checkpoint)
            #expect(try signer.signature(forText: checkpoint.text).line == vector.signature_line, "Ed25519 here is deterministic (RFC 8032)")
            let note = try signer.sign(checkpoint)
            #expect(note.bytes == Array(vector.note.utf8))
            let parsed = try SignedNote(parsing: Array(vector.note.utf8))
            #expect(parsed == note)
            #expect(try parsed.verifiedSignatures(by: [signer.verifier]) == note.signatures)
            #expect(try TreeCheckpoint.opening(Array(vector.note.utf8), logVerifier: signer.verifier) == checkpoint)
        }
    }

    @Test func witnessCosignaturesMatchByteForByte() throws {
        let checkpoint = try TreeCheckpoint(text: Self.vectors.checkpoints[0].text)
        var note = try Self.logSigner().sign(checkpoint)
        for vector in Self.vectors.cosignatures {
            let cosigner = try Self.cosigner(vector.witness)
            let cosignature = Cosignature(timestampSeconds: vector.timestamp, ed25519Signature: [])
            #expect(cosignature.signedMessage(for: checkpoint) == Array(vector.signed_message.utf8))
            let signature = try cosigner.cosignature(for: checkpoint, timestampSeconds: vector.timestamp)
            #expect(signature.line == vector.signature_line)
            note = try note.adding(signature)
        }
        #expect(note.bytes == Array(Self.vectors.cosigned_note.utf8))
        let verifiers = try [Self.logSigner().verifier, Self.cosigner(0).verifier, Self.cosigner(1).verifier]
        #expect(try SignedNote(parsing: note.bytes).verifiedSignatures(by: verifiers).map(\.keyName)
            == [Self.vectors.keys.log.name] + Self.vectors.keys.witnesses.map(\.name))
        // Adding a signature by a key already on the note replaces it.
        let again = try Self.cosigner(0).cosignature(for: checkpoint, timestampSeconds: 5)
        #expect(try note.adding(again).signatures.map(\.keyName) == [Self.vectors.keys.log.name, Self.vectors.keys.witnesses[1].name, Self.vectors.keys.witnesses[0].name])
    }

    @Test func goAndC2SPExamplesInteroperate() throws {
        let go = Self.vectors.interoperability.go_note
        let signer = try NoteSigner(keyName: go.key_name, privateKey: Self.privateKey(go.seed))
        #expect(signer.verifier.verifierKey == go.verifier_key)
        let note = try SignedNote(text: go.text, signatures: [signer.signature(forText: go.text)])
        #expect(note.bytes == Array(go.note.utf8))
        #expect(try SignedNote(parsing: Array(go.note.utf8)).verifiedSignatures(by: [NoteVerifier(verifierKey: go.verifier_key)]).count == 1)

        let example = Self.vectors.interoperability.c2sp_cosigned_checkpoint
        let cosigned = try SignedNote(parsing: Array(example.note.utf8))
        #expect(cosigned.bytes == Array(example.note.utf8))
        #expect(try TreeCheckpoint(text: cosigned.text).treeSize == example.tree_size)
        let witness = try #require(cosigned.signatures.first { $0.keyName == example.witness })
        #expect(Self.hexKeyID(witness.keyID) == example.witness_key_id)
        #expect(Cosignature(signatureBytes: witness.signatureBytes)?.timestampSeconds == example.timestamp)
    }

    @Test func openingANoteGivesExactlyTheExpectedSignatures() throws {
        #expect(Self.vectors.verification_cases.count >= 10)
        for vector in Self.vectors.verification_cases {
            let verifiers = try vector.verifier_keys.map { try NoteVerifier(verifierKey: $0) }
            let verified = try? SignedNote(parsing: Array(vector.note.utf8)).verifiedSignatures(by: verifiers)
            #expect(verified?.map(\.keyName) == vector.verified, "\(vector.why)")
        }
    }

    @Test func malformedNotesVerifierKeysAndCheckpointsAreRefused() {
        #expect(Self.vectors.malformed_notes.count >= 25)
        for vector in Self.vectors.malformed_notes {
            #expect(throws: SignedNoteError.self, "\(vector.why)") { try SignedNote(parsing: MerkleVectors.bytes(vector.note_hex)) }
        }
        for vector in Self.vectors.malformed_verifier_keys {
            #expect(throws: SignedNoteError.self, "\(vector.why)") { try NoteVerifier(verifierKey: vector.verifier_key) }
        }
        for vector in Self.vectors.malformed_checkpoints {
            #expect(throws: SignedNoteError.self, "\(vector.why)") { try TreeCheckpoint(text: vector.text) }
        }
    }

    @Test func formattingRefusesWhatItCouldNotParseBack() throws {
        let signer = try Self.logSigner()
        let checkpoint = try TreeCheckpoint(text: Self.vectors.checkpoints[0].text)
        let signature = try signer.signature(forText: checkpoint.text)
        #expect(throws: SignedNoteError.tooManySignatures) {
            try SignedNote(text: checkpoint.text, signatures: Array(repeating: signature, count: SignedNote.maximumSignatureCount + 1))
        }
        #expect(throws: SignedNoteError.self) { try SignedNote(text: String(repeating: "x", count: SignedNote.maximumByteCount) + "\n", signatures: [signature]) }
        #expect(throws: SignedNoteError.self) { try SignedNote(text: checkpoint.text, signatures: []) }
        #expect(throws: SignedNoteError.self) { try signer.signature(forText: "no newline") }
        #expect(throws: SignedNoteError.self) { try signer.signature(forText: "a tab\there\n") }
        #expect(throws: SignedNoteError.invalidKeyName) { try NoteSigner(keyName: "integra ledger", privateKey: Self.privateKey(Self.vectors.keys.log.seed)) }
        #expect(throws: SignedNoteError.invalidKeyName) { try NoteSigner(keyName: "a+b", privateKey: Self.privateKey(Self.vectors.keys.log.seed)) }
        #expect(throws: SignedNoteError.invalidKeyName) { try NoteSigner(keyName: "", privateKey: Self.privateKey(Self.vectors.keys.log.seed)) }
        #expect(throws: SignedNoteError.invalidTimestamp) { try Self.cosigner(0).cosignature(for: checkpoint, timestampSeconds: 1 << 63) }
        #expect(throws: SignedNoteError.self) { try TreeCheckpoint(origin: "", treeSize: 1, rootHash: checkpoint.rootHash) }
        #expect(throws: SignedNoteError.self) { try TreeCheckpoint(origin: "o", treeSize: 1, rootHash: [1]) }
        #expect(throws: SignedNoteError.self) { try TreeCheckpoint(origin: "o", treeSize: 1, rootHash: checkpoint.rootHash, extensionLines: [""]) }
        #expect(throws: SignedNoteError.self) { try TreeCheckpoint(origin: "o\nx", treeSize: 1, rootHash: checkpoint.rootHash) }
        let largest = try TreeCheckpoint(origin: "o", treeSize: UInt64.max, rootHash: checkpoint.rootHash)
        #expect(try TreeCheckpoint(text: largest.text) == largest)
        // A checkpoint of another origin, even signed by the log's key, is not the log's.
        let otherOrigin = try TreeCheckpoint(origin: "integra.example/other", treeSize: 1, rootHash: checkpoint.rootHash)
        #expect(throws: SignedNoteError.malformedCheckpoint("the origin is not the log's key name")) {
            try TreeCheckpoint.opening(signer.sign(otherOrigin).bytes, logVerifier: signer.verifier)
        }
        let otherKey = try NoteSigner(keyName: "integra.example/other", privateKey: Self.privateKey(Self.vectors.keys.log.seed))
        #expect(throws: SignedNoteError.notSignedByKnownKey) { try TreeCheckpoint.opening(otherKey.sign(checkpoint).bytes, logVerifier: signer.verifier) }
        #expect(throws: SignedNoteError.ambiguousVerifiers(keyName: signer.verifier.keyName, keyID: signer.verifier.keyID)) {
            try signer.sign(checkpoint).verifiedSignatures(by: [signer.verifier, signer.verifier])
        }
    }

    @Test func parsingNeverTrapsOnHostileNotes() throws {
        var random = SplitMix64(seed: 8032)
        let seeds = [Self.vectors.cosigned_note, Self.vectors.checkpoints[3].note, Self.vectors.interoperability.go_note.note].map { Array($0.utf8) }
        let alphabet = Array("\n \u{2014}+=/AZaz09—\u{00A0}".utf8) + [0x00, 0x80, 0xC0, 0xE2, 0xFF]
        for _ in 0..<4_000 {
            var bytes = seeds[Int(random.next() % UInt64(seeds.count))]
            for _ in 0..<Int(1 + random.next() % 4) {
                let position = Int(random.next() % UInt64(bytes.count + 1))
                switch random.next() % 4 {
                case 0: if position < bytes.count { bytes[position] = alphabet[Int(random.next() % UInt64(alphabet.count))] }
                case 1: bytes.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: position)
                case 2: if position < bytes.count { bytes.remove(at: position) }
                default: bytes = Array(bytes.prefix(position))
                }
            }
            guard let note = try? SignedNote(parsing: bytes) else { continue }
            // Whatever parses formats back to the same bytes: one note, one spelling.
            #expect(note.bytes == bytes)
            _ = try? note.verifiedSignatures(by: [Self.logSigner().verifier, Self.cosigner(0).verifier])
            _ = try? TreeCheckpoint(text: note.text)
        }
    }
}
