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

    /// A fuzz input whose login the stand-in ledger grants with an empty device token: the
    /// server encoded it as an empty field 5, which no client decodes ("field 5 is empty").
    static let loginWithAnEmptyDeviceToken =
        "000000640101010000000000000000000000019b76daa82802020202020202020202020202020202010005616c696365" +
        "020015636f727265637420686f72736520626174746572794662058715b59f0ff2c5d6484d8fa9272226cae16b23337e" +
        "330a48382a7697f6000000870102010000000000000000010000019b76db938c040404040404040446ea97d0ad550000" +
        "010005616c696365020015636f727265637420686f727365206261747465727903002079a631eede1bf9c98f12032cde" +
        "add0e7a079398fc786b88cc846ec89af85a51ae8db52071dc944b1a95231541771919714a50129e50f8846fe01000000" +
        "000000070e000000630104010000000000000000020000019b76dba80e0606060606060606060606060606060601000d" +
        "37663063326138652d64656d6f020003626f620300063130302e3530ba63ffbf70df686f727365020202020202010005" +
        "616c696365020015636f727265637420686f727365206261747465727946620587a2b59f0ff2c5d6484d8fa9272226ca" +
        "e16b23337e330a48382a7697f6000000870102010000000000000000010000019b76db938c0404040404040404040404" +
        "0404040404010005616c696365020015636f727265637420686f727365206261747465727903002079a631eede1bf9c9" +
        "8f12032cdeadd0e7a079398f206261747465727920737461706c65ef7370c7dec5b88f19cb54de54ed8090e1ac86ccd1" +
        "f67edd25ae090933d2542f000000660104010000000000000000080000019b76dbfc0412121212121212121212121212" +
        "12121201000f37663063326138652d64656d6f2d32020003626f62030007353030302e30308c02a9f0a44d642bd813d8" +
        "533e195453d158c01800000078ce23b3c3fbfa413a62723406000000440103010000000000000000090000019b76dbff" +
        "f014141414141414141414141414141414049a0f3ec244e47945380487daa72c246070de473099071525d5719417b34f" +
        "9c"

    @Test func aLoginGrantedWithAnEmptyDeviceTokenIsAnsweredWithALoggedInThatDecodes() throws {
        // Replayed through the fuzz target: the property that every server frame decodes holds.
        _ = ProtocolFuzzHarness.run(try #require([UInt8](hexString: Self.loginWithAnEmptyDeviceToken)))
        // And directly: an empty token is left out on both sides, not sent as an empty field.
        for message in [ServerMessage.loggedIn(username: "alice", balance: "1.00", ephemeralPublicKey: Array(repeating: 9, count: 32), signature: Array(repeating: 1, count: 64), deviceToken: [])] {
            var writer = FieldWriter(buffer: ByteBuffer())
            message.encodeBody(into: &writer)
            guard case .loggedIn(_, _, _, _, let token) = try ServerMessage.decode(type: MessageType.loggedIn.rawValue, body: writer.buffer) else { throw TestFailure("not loggedIn") }
            #expect(token == nil)
        }
        var writer = FieldWriter(buffer: ByteBuffer())
        ClientMessage.login(username: "alice", password: "a password", ephemeralPublicKey: Array(repeating: 9, count: 32), deviceToken: []).encodeBody(into: &writer)
        guard case .login(_, _, _, let token) = try ClientMessage.decode(type: MessageType.login.rawValue, body: writer.buffer) else { throw TestFailure("not login") }
        #expect(token == nil)
    }
}
