import Crypto
import Foundation
import IntegraTransparency
@testable import IntegraWitness
import Testing

/// The `add-checkpoint` body (c2sp.org/tlog-witness) as the witness reads it and a log writes it,
/// and the answers as the witness writes them and a log reads them. No socket.
@Suite struct WitnessRequestTests {
    let log: NoteSigner
    let cosigner: WitnessCosigner

    init() throws {
        self.log = try NoteSigner(keyName: WitnessStateTests.origin, privateKey: Curve25519.Signing.PrivateKey())
        self.cosigner = try WitnessCosigner(keyName: "witness.example/w1", privateKey: Curve25519.Signing.PrivateKey())
    }

    /// The checkpoint of the first `treeSize` leaves of `WitnessStateTests.tree`.
    static func checkpoint(treeSize: UInt64) throws -> TreeCheckpoint {
        try TreeCheckpoint(origin: WitnessStateTests.origin, treeSize: treeSize, rootHash: WitnessStateTests.root(treeSize: treeSize))
    }

    static func proof(from oldSize: UInt64, to newSize: UInt64) throws -> [[UInt8]] {
        try WitnessStateTests.proof(from: oldSize, to: newSize)
    }

    func note(treeSize: UInt64) throws -> [UInt8] {
        try self.log.sign(Self.checkpoint(treeSize: treeSize)).bytes
    }

    static let hash = [UInt8](repeating: 0xA5, count: 32)
    static var hashLine: String { Data(Self.hash).base64EncodedString() + "\n" }

    @Test func aRequestReadsBackAsTheLogWroteIt() throws {
        for (oldSize, newSize) in [(UInt64(0), UInt64(5)), (5, 5), (5, 17), (17, 40), (1, 40)] {
            let request = WitnessRequest(oldSize: oldSize, consistencyProof: try Self.proof(from: oldSize, to: newSize), noteBytes: try self.note(treeSize: newSize))
            let parsed = try WitnessRequest(parsing: request.bytes)
            #expect(parsed == request, "\(oldSize) → \(newSize)")
            #expect(parsed.origin == Array(WitnessStateTests.origin.utf8))
        }
    }

    @Test func theBodyIsAnOldSizeLineProofLinesAnEmptyLineAndTheNote() throws {
        let note = try self.note(treeSize: 17)
        let body = Array("old 10\n\(Self.hashLine)\(Data([UInt8](repeating: 7, count: 32)).base64EncodedString())\n\n".utf8) + note
        let request = try WitnessRequest(parsing: body)
        #expect(request.oldSize == 10)
        #expect(request.consistencyProof == [Self.hash, [UInt8](repeating: 7, count: 32)])
        #expect(request.noteBytes == note)
        #expect(request.bytes == body)
    }

    @Test func theLargestSizeAndSixtyThreeProofLinesAreAccepted() throws {
        let body = Array("old 18446744073709551615\n\(String(repeating: Self.hashLine, count: 63))\nx\n".utf8)
        let request = try WitnessRequest(parsing: body)
        #expect(request.oldSize == UInt64.max)
        #expect(request.consistencyProof.count == WitnessRequest.maximumProofLineCount)
    }

    @Test func everyMalformedBodyIsRefused() throws {
        let note = try self.note(treeSize: 8)
        let hash = Self.hashLine
        // The last base64 digit of a 32-byte hash carries two padding bits, which must be zero.
        let nonCanonicalHash = String(hash.dropLast(3)) + "R=\n"
        let cases: [(String, [UInt8])] = [
            ("an empty body", []),
            ("an old size line without its newline", Array("old 5".utf8)),
            ("no space after old", Array("old5\n\n".utf8) + note),
            ("an upper-case OLD", Array("OLD 5\n\n".utf8) + note),
            ("a leading zero", Array("old 05\n\(hash)\n".utf8) + note),
            ("a plus sign", Array("old +5\n\(hash)\n".utf8) + note),
            ("a negative size", Array("old -1\n\n".utf8) + note),
            ("a trailing space", Array("old 5 \n\(hash)\n".utf8) + note),
            ("a size past 2^64 - 1", Array("old 18446744073709551616\n\(hash)\n".utf8) + note),
            ("CRLF line endings", Array("old 5\r\n\(hash)\r\n\r\n".utf8) + note),
            ("a proof line that is not base64", Array("old 5\nnot base64!\n\n".utf8) + note),
            ("a 31-byte hash", Array("old 5\n\(Data(repeating: 1, count: 31).base64EncodedString())\n\n".utf8) + note),
            ("a 33-byte hash", Array("old 5\n\(Data(repeating: 1, count: 33).base64EncodedString())\n\n".utf8) + note),
            ("non-zero padding bits", Array("old 5\n\(nonCanonicalHash)\n".utf8) + note),
            ("a space before a hash", Array("old 5\n \(hash)\n".utf8) + note),
            ("no empty line", Array("old 5\n\(hash)".utf8)),
            ("nothing after the empty line", Array("old 5\n\(hash)\n".utf8)),
            ("a proof from the empty tree", Array("old 0\n\(hash)\n".utf8) + note),
            ("64 proof lines", Array("old 5\n\(String(repeating: hash, count: 64))\n".utf8) + note),
            ("a body over 64 KiB", Array("old 5\n\n".utf8) + [UInt8](repeating: 0x41, count: WitnessRequest.maximumByteCount)),
        ]
        for (name, body) in cases {
            #expect(throws: WitnessRequestError.self, "\(name)") { try WitnessRequest(parsing: body) }
        }
    }

    /// Whatever the bytes, parsing ends in a request or an error; and because every part of the
    /// format has one spelling, a body that parses is exactly the body its request writes.
    @Test func mutatedAndTruncatedBodiesNeverTrapAndWhatParsesIsCanonical() throws {
        let body = WitnessRequest(oldSize: 17, consistencyProof: try Self.proof(from: 17, to: 40), noteBytes: try self.note(treeSize: 40)).bytes
        var variants: [[UInt8]] = (0...body.count).map { Array(body.prefix($0)) }
        for index in body.indices {
            for replacement: UInt8 in [0x0A, 0x20, 0x30, 0x3D, 0x2B, 0x00, 0xFF] where body[index] != replacement {
                var mutated = body
                mutated[index] = replacement
                variants.append(mutated)
            }
        }
        for variant in variants {
            if let request = try? WitnessRequest(parsing: variant) {
                #expect(request.bytes == variant)
            }
        }
    }

    @Test func refusalsAreAnsweredWithTheSpecsStatusesAndBodies() throws {
        let conflict = WitnessResponse.refused(.oldSizeMismatch(latestTreeSize: 25))
        #expect(conflict == WitnessResponse(status: 409, contentType: "text/x.tlog.size", body: Array("25\n".utf8)))
        let offered = try Self.checkpoint(treeSize: 9)
        let statuses: [(WitnessRefusal, Int)] = [
            (.unknownLog, 404), (.notSignedByTheLog, 403), (.smallerThanOldSize, 400), (.inconsistent(latest: nil, offered: offered), 422),
        ]
        for (refusal, status) in statuses {
            let response = WitnessResponse.refused(refusal)
            #expect(response.status == status)
            #expect(response.contentType.hasPrefix("text/plain"))
            #expect(response.body.last == 0x0A && response.body.filter { $0 == 0x0A }.count == 1, "one line")
        }
        #expect(WitnessResponse.malformed(WitnessRequestError("x")).status == 400)
    }

    @Test func aLogReadsTheCosignatureTheWitnessAnswers() throws {
        let noteBytes = try self.note(treeSize: 12)
        let cosignature = try self.cosigner.cosignature(for: try Self.checkpoint(treeSize: 12), timestampSeconds: 1_790_000_000)
        let answer = WitnessResponse.cosigned(cosignature)
        #expect(answer.status == 200)
        #expect(answer.body.starts(with: Array("\u{2014} witness.example/w1 ".utf8)))
        let result = try AddCheckpointResult.parsing(status: 200, body: answer.body, noteBytes: noteBytes, witness: self.cosigner.verifier)
        #expect(result == .cosigned(cosignature))
        #expect(try SignedNote(parsing: noteBytes).adding(cosignature).verifiedSignatures(by: [self.cosigner.verifier]) == [cosignature])
    }

    @Test func aLogRefusesAnAnswerWithoutAValidCosignatureByItsWitness() throws {
        let noteBytes = try self.note(treeSize: 12)
        let impostor = try WitnessCosigner(keyName: "witness.example/w1", privateKey: Curve25519.Signing.PrivateKey())
        let otherCheckpoint = try self.cosigner.cosignature(for: try Self.checkpoint(treeSize: 11), timestampSeconds: 1_790_000_000)
        let bodies: [(String, [UInt8])] = [
            ("another key's cosignature", WitnessResponse.cosigned(try impostor.cosignature(for: try Self.checkpoint(treeSize: 12), timestampSeconds: 1)).body),
            ("a cosignature of another checkpoint", WitnessResponse.cosigned(otherCheckpoint).body),
            ("no signature line", Array("ok\n".utf8)),
            ("an empty body", []),
        ]
        for (name, body) in bodies {
            #expect(throws: WitnessClientError.self, "\(name)") {
                try AddCheckpointResult.parsing(status: 200, body: body, noteBytes: noteBytes, witness: self.cosigner.verifier)
            }
        }
    }

    @Test func aLogReadsTheWitnessesSizeFromAConflictAndTheReasonFromARefusal() throws {
        let noteBytes = try self.note(treeSize: 12)
        let witness = self.cosigner.verifier
        let conflict = WitnessResponse.refused(.oldSizeMismatch(latestTreeSize: 25))
        #expect(try AddCheckpointResult.parsing(status: conflict.status, body: conflict.body, noteBytes: noteBytes, witness: witness) == .conflict(latestTreeSize: 25))
        for body in ["025\n", "25", "", "twenty\n"] {
            #expect(throws: WitnessClientError.self, "\(body)") {
                try AddCheckpointResult.parsing(status: 409, body: Array(body.utf8), noteBytes: noteBytes, witness: witness)
            }
        }
        let refusal = WitnessResponse.refused(.smallerThanOldSize)
        #expect(try AddCheckpointResult.parsing(status: refusal.status, body: refusal.body, noteBytes: noteBytes, witness: witness)
            == .refused(status: 400, message: "the checkpoint is smaller than the old size"))
        let long = try AddCheckpointResult.parsing(
            status: 502, body: Array(("\u{1B}[31m" + String(repeating: "x", count: 500) + "\nsecond line").utf8), noteBytes: noteBytes, witness: witness)
        guard case .refused(502, let message) = long else {
            Issue.record("a 502 was not a refusal")
            return
        }
        #expect(message.count <= AddCheckpointResult.maximumMessageCount && !message.contains("second") && !message.contains("\u{1B}"))
    }
}
