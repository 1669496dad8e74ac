import Foundation
import IntegraFuzzHarness
import IntegraProtocol
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
}
