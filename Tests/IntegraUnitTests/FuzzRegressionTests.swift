import Crypto
import Foundation
import IntegraFuzzHarness
import IntegraProtocol
import IntegraTestSupport
import NIOCore
import Testing

/// The fuzz target's seed corpus and its findings, replayed through the same entry point as
/// `integra-fuzz` so the normal test suite keeps exercising them. A broken fuzz property stops
/// the test process, as it stops the fuzzer.
@Suite struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func corpus() throws -> [String: [UInt8]] {
        let directory = Self.root.appendingPathComponent("Fuzz/corpus")
        var files: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            files[name] = Array(try Data(contentsOf: directory.appendingPathComponent(name)))
        }
        return files
    }

    @Test func seedCorpusKeepsEveryFuzzPropertyAndReachesEveryMessageAndRequest() throws {
        let corpus = try Self.corpus()
        #expect(corpus.count >= 40)
        var summary = FuzzRunSummary()
        for name in corpus.keys.sorted() {
            summary.merge(ProtocolFuzzHarness.run(corpus[name]!))
        }
        let clientTypes = Set(MessageType.allCases.filter { $0.rawValue < 0x80 })
        #expect(summary.decodedClientTypes == clientTypes)
        #expect(summary.decodedServerTypes == Set(MessageType.allCases).subtracting(clientTypes))
        #expect(summary.performedRequests == clientTypes, "the server state machine performs every request of the corpus conversation")
        #expect(summary.sessionRequestAuthenticated, "a corpus login completes and session frames authenticate")
        #expect(summary.clientRepliesAccepted > 0)
        #expect(summary.amountsAccepted > 0)
        #expect(summary.usernamesAccepted > 0)
    }

    @Test func seedCorpusHoldsEveryProtocolVectorFrame() throws {
        struct Vectors: Decodable {
            struct Frame: Decodable {
                let name: String
                let frame: String
            }
            let frames: [Frame]
        }
        let vectors = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: Self.root.appendingPathComponent("docs/protocol-vectors.json")))
        let corpus = try Self.corpus()
        for vector in vectors.frames {
            #expect(corpus["vector-\(vector.name)"] == [UInt8](hexString: vector.frame), "Fuzz/corpus is out of date: run Fuzz/make-corpus.py")
        }
    }

    /// An `inclusionProof` frame whose position plus its digest count passes UInt64.max: the
    /// proof check trapped on the addition.
    static let proofPositionOverflow = "000001230189020000000000000000000000019b76daa80033333333333333333333333333333333010008ffffffffffffffff020020" + String(repeating: "00", count: 32)
        + "0300080000000000000000040020" + String(repeating: "00", count: 32) + "05000800000000000000000600" + "40" + String(repeating: "00", count: 64)
        + proofEntryFields + String(repeating: "00", count: 32)

    /// An `inclusionProof` frame with no digests whose checkpoint position is above Int64.max and
    /// whose chain hash matches the receipt's: the proof check trapped converting the position.
    static let proofPositionBeyondLedger = "000001030189020000000000000000000000019b76daa8003333333333333333333333333333333301000880000000000000000200000300088000000000000000040020" + String(repeating: "00", count: 32)
        + "05000800000000000000000600" + "40" + String(repeating: "00", count: 64)
        + proofEntryFields + String(repeating: "00", count: 32)

    /// Fields 7 and 8 of an inclusion proof: an entry that is only the encoding's label, and a
    /// zero previous chain hash (the frames above end with these, then the MAC).
    static let proofEntryFields = "07000f" + "696e74656772612f3120656e747279" + "080020" + String(repeating: "00", count: 32)

    static func inclusionProof(_ hex: String) throws -> InclusionProof {
        let bytes = try #require([UInt8](hexString: hex))
        let frame = try RawFrame(ByteBuffer(bytes: bytes))
        guard case .inclusionProof(let proof) = try ServerMessage.decode(type: frame.header.type, body: frame.body) else {
            throw TestFailure("the frame is not an inclusion proof")
        }
        return proof
    }

    @Test(arguments: [proofPositionOverflow, proofPositionBeyondLedger])
    func inclusionProofWithAPositionOutsideTheLedgerProvesNothing(_ hex: String) throws {
        let proof = try Self.inclusionProof(hex)
        let receipt = TransferConfirmation(
            transferID: "t-1", position: proof.position, sender: "alice", recipient: "bob", amount: "1.00",
            balanceAfter: "0.00", createdAtMs: 0, isRetry: false, chainHash: proof.checkpointChainHash)
        let identity = Curve25519.Signing.PrivateKey().publicKey
        #expect(!proof.proves(receipt, identity: identity))
        _ = ProtocolFuzzHarness.run(try #require([UInt8](hexString: hex)))
    }
}
