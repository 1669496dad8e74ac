import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import IntegraTransparency
import IntegraProtocol
import IntegraTestSupport
import IntegraWitness
import Logging
import NIOCore
import NIOPosix
import Testing

/// A witness over a real loopback socket, pushed to by `WitnessClient` as a log would: it cosigns
/// every checkpoint that extends the last one it cosigned, refuses the rest with the statuses of
/// c2sp.org/tlog-witness, keeps the evidence of a forked log, and keeps its record across restarts.
@Suite struct WitnessServiceTests {
    static let origin = "bank.example/integra"
    static let cosignedAtMs: Int64 = 1_790_000_000_000

    /// A log in memory: a signing key and the nodes of a tree, from which it signs checkpoints
    /// and proves consistency as the Integra server does (`MerkleProofPlan` over stored nodes).
    struct FakeLog {
        let signer: NoteSigner
        private let nodes: [MerkleNodeID: [UInt8]]

        /// A log of `leafCount` entries; `rewrittenLeaf` gives another history from that entry on.
        init(signer: NoteSigner, leafCount: Int, rewrittenLeaf: Int? = nil) throws {
            let leaves = (0..<leafCount).map { MerkleTree.leafHash(Array("entry \($0)\($0 == rewrittenLeaf ? " rewritten" : "")".utf8)) }
            self.signer = signer
            self.nodes = Dictionary(uniqueKeysWithValues: try MerkleFrontier().appending(leafHashes: leaves).nodes.map { ($0.id, $0.hash) })
        }

        var verifier: NoteVerifier { self.signer.verifier }

        func rootHash(treeSize: UInt64) throws -> [UInt8] {
            try MerkleSubtree.wholeTree(treeSize: treeSize).hash(from: self.nodes)
        }

        func consistencyProof(from oldSize: UInt64, to newSize: UInt64) throws -> [[UInt8]] {
            try MerkleProofPlan.consistency(oldTreeSize: oldSize, newTreeSize: newSize).hashes(from: self.nodes)
        }

        func note(treeSize: UInt64) throws -> [UInt8] {
            try self.signer.sign(TreeCheckpoint(origin: self.verifier.keyName, treeSize: treeSize, rootHash: self.rootHash(treeSize: treeSize))).bytes
        }

        /// Pushes the checkpoint of `treeSize` to `client` as extending `oldSize`.
        func push(_ treeSize: UInt64, from oldSize: UInt64, to client: WitnessClient) async throws -> AddCheckpointResult {
            try await client.addCheckpoint(noteBytes: self.note(treeSize: treeSize), oldSize: oldSize, consistencyProof: self.consistencyProof(from: min(oldSize, treeSize), to: treeSize))
        }
    }

    static func logSigner() throws -> NoteSigner {
        try NoteSigner(keyName: Self.origin, privateKey: Curve25519.Signing.PrivateKey())
    }

    /// Runs a witness over `directory` on a loopback port for `body`, then stops it and waits
    /// until it has stopped.
    static func withWitness<T>(_ directory: URL, logs: [NoteVerifier], _ body: (WitnessClient) async throws -> T) async throws -> T {
        var configuration = WitnessConfiguration(dataDirectory: directory.path, host: "127.0.0.1", port: 0, logVerifiers: logs)
        configuration.clock = WallClock { Self.cosignedAtMs }
        var logger = Logger(label: "integra.witness.test")
        logger.logLevel = .critical
        let (ports, listening) = AsyncStream.makeStream(of: Int.self)
        let service = try WitnessService(configuration: configuration, logger: logger) { listening.yield($0) }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { listening.finish() }
                try await service.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw TestFailure("the witness stopped before it listened") }
            let client = WitnessClient(url: URL(string: "http://127.0.0.1:\(port)")!, witness: service.verifier)
            let result: Result<T, any Error>
            do {
                result = .success(try await body(client))
            } catch {
                result = .failure(error)
            }
            group.cancelAll()
            try await group.waitForAll()
            return try result.get()
        }
    }

    static func witnessDirectory(in parent: URL) throws -> URL {
        let directory = parent.appendingPathComponent("witness")
        _ = try WitnessKey.create(in: directory.path, keyName: "witness.example/w1")
        return directory
    }

    @Test func everyCheckpointThatExtendsTheLastIsCosignedAndTheCosignatureVerifies() async throws {
        try await withTemporaryDirectory { parent in
            let directory = try Self.witnessDirectory(in: parent)
            let witness = try NoteVerifier(verifierKey: try WitnessKey.load(from: directory.path).verifier.verifierKey)
            let log = try FakeLog(signer: Self.logSigner(), leafCount: 40)
            try await Self.withWitness(directory, logs: [log.verifier]) { client async throws in
                var oldSize: UInt64 = 0
                // Growing by one, by many, across powers of two, and the same checkpoint again.
                for treeSize: UInt64 in [1, 2, 3, 4, 5, 8, 13, 16, 17, 31, 40, 40] {
                    let result = try await log.push(treeSize, from: oldSize, to: client)
                    guard case .cosigned(let cosignature) = result else {
                        Issue.record("\(oldSize) → \(treeSize) was not cosigned: \(result)")
                        return
                    }
                    let cosigned = try SignedNote(parsing: log.note(treeSize: treeSize)).adding(cosignature)
                    #expect(try cosigned.verifiedSignatures(by: [witness]) == [cosignature])
                    #expect(try TreeCheckpoint.opening(cosigned.bytes, logVerifier: log.verifier).treeSize == treeSize)
                    oldSize = treeSize
                }
            }
            let recorded = try WitnessStore(directory: directory.path).cosignedCheckpoints(witness: witness)
            #expect(recorded.map(\.checkpoint.treeSize) == [40])
            #expect(recorded.first?.cosignedAtSeconds == UInt64(Self.cosignedAtMs / 1000))
            #expect(try WitnessStore(directory: directory.path).alarms().isEmpty)
        }
    }

    @Test func aStaleOldSizeIsAnsweredWithTheWitnessesSizeAndTheRetryIsCosigned() async throws {
        try await withTemporaryDirectory { parent in
            let directory = try Self.witnessDirectory(in: parent)
            let log = try FakeLog(signer: Self.logSigner(), leafCount: 20)
            try await Self.withWitness(directory, logs: [log.verifier]) { client async throws in
                #expect(try await log.push(10, from: 0, to: client).status == 200)
                #expect(try await log.push(15, from: 5, to: client) == .conflict(latestTreeSize: 10))
                #expect(try await log.push(15, from: 0, to: client) == .conflict(latestTreeSize: 10))
                #expect(try await log.push(15, from: 10, to: client).status == 200, "the retry from the witness's size")
            }
        }
    }

    @Test func aForkedCheckpointIsRefusedAndRecordedAndTheForkedViewStaysRefused() async throws {
        try await withTemporaryDirectory { parent in
            let directory = try Self.witnessDirectory(in: parent)
            let signer = try Self.logSigner()
            let log = try FakeLog(signer: signer, leafCount: 30)
            // The same key signs another history: entry 3 rewritten.
            let fork = try FakeLog(signer: signer, leafCount: 30, rewrittenLeaf: 3)
            try await Self.withWitness(directory, logs: [log.verifier]) { client async throws in
                #expect(try await log.push(10, from: 0, to: client).status == 200)
                // The same size with another root, then larger forked trees with the fork's own
                // proofs from size 10: no proof can make them extend the cosigned root.
                #expect(try await fork.push(10, from: 10, to: client) == .refused(status: 422, message: "the checkpoint is not consistent with the checkpoint this witness cosigned"))
                #expect(try await fork.push(16, from: 10, to: client).status == 422, "a larger forked tree")
                #expect(try await fork.push(20, from: 10, to: client).status == 422, "a later checkpoint of the forked view")
                // The same forked checkpoint again is refused again, but recorded once.
                #expect(try await fork.push(16, from: 10, to: client).status == 422, "the same forked checkpoint again")
                // The witness's own view still grows.
                #expect(try await log.push(12, from: 10, to: client).status == 200, "the cosigned history after the alarm")
            }
            let alarms = try WitnessStore(directory: directory.path).alarms()
            #expect(alarms.map(\.offeredTreeSize) == [10, 16, 20])
            let first = try #require(alarms.first)
            #expect(first.origin == Self.origin && first.oldSize == 10 && first.cosignedTreeSize == 10)
            #expect(first.cosignedRootHash == Data(try log.rootHash(treeSize: 10)).base64EncodedString())
            #expect(first.offeredRootHash == Data(try fork.rootHash(treeSize: 10)).base64EncodedString())
            // The evidence carries the log's signature on both heads: anyone with its key can check it.
            let offered = try TreeCheckpoint.opening(Array(first.offeredNote.utf8), logVerifier: log.verifier)
            let cosigned = try TreeCheckpoint.opening(Array(try #require(first.cosignedNote).utf8), logVerifier: log.verifier)
            #expect(offered.treeSize == cosigned.treeSize && offered.rootHash != cosigned.rootHash)
            #expect(alarms[1].consistencyProof == (try fork.consistencyProof(from: 10, to: 16)).map { Data($0).base64EncodedString() })
        }
    }

    @Test func aRestartedWitnessKeepsItsLatestCheckpointAndRefusesARollback() async throws {
        try await withTemporaryDirectory { parent in
            let directory = try Self.witnessDirectory(in: parent)
            let log = try FakeLog(signer: Self.logSigner(), leafCount: 24)
            try await Self.withWitness(directory, logs: [log.verifier]) { client async throws in
                #expect(try await log.push(9, from: 0, to: client).status == 200)
                #expect(try await log.push(16, from: 9, to: client).status == 200)
            }
            try await Self.withWitness(directory, logs: [log.verifier]) { client async throws in
                #expect(try await log.push(8, from: 0, to: client) == .conflict(latestTreeSize: 16))
                #expect(try await log.push(8, from: 16, to: client) == .refused(status: 400, message: "the checkpoint is smaller than the old size"))
                #expect(try await log.push(24, from: 16, to: client).status == 200, "an extension of the record after the restart")
            }
            #expect(try WitnessStore(directory: directory.path).latestCheckpoint(of: log.verifier)?.treeSize == 24)
        }
    }

    @Test func concurrentCheckpointsFromTheSameOldSizeMoveTheWitnessOnce() async throws {
        try await withTemporaryDirectory { parent in
            let directory = try Self.witnessDirectory(in: parent)
            let log = try FakeLog(signer: Self.logSigner(), leafCount: 16)
            let results = try await Self.withWitness(directory, logs: [log.verifier]) { client async throws in
                #expect(try await log.push(4, from: 0, to: client).status == 200)
                return try await withThrowingTaskGroup(of: (UInt64, AddCheckpointResult).self) { group in
                    for treeSize in UInt64(5)...16 {
                        group.addTask { (treeSize, try await log.push(treeSize, from: 4, to: client)) }
                    }
                    return try await group.reduce(into: [UInt64: AddCheckpointResult]()) { $0[$1.0] = $1.1 }
                }
            }
            let cosigned = results.filter { if case .cosigned = $0.value { true } else { false } }.map(\.key)
            #expect(cosigned.count == 1, "exactly one checkpoint advances the witness from size 4: \(results)")
            let winner = try #require(cosigned.first)
            for (treeSize, result) in results where treeSize != winner {
                #expect(result == .conflict(latestTreeSize: winner), "\(treeSize)")
            }
            #expect(try WitnessStore(directory: directory.path).latestCheckpoint(of: log.verifier)?.treeSize == winner)
        }
    }

    @Test func checkpointsTheWitnessCannotHonourAreRefusedWithTheSpecsStatuses() async throws {
        try await withTemporaryDirectory { parent in
            let directory = try Self.witnessDirectory(in: parent)
            let log = try FakeLog(signer: Self.logSigner(), leafCount: 8)
            let impostor = try FakeLog(signer: Self.logSigner(), leafCount: 8)
            let otherLog = try FakeLog(signer: NoteSigner(keyName: "other.example/log", privateKey: Curve25519.Signing.PrivateKey()), leafCount: 8)
            try await Self.withWitness(directory, logs: [log.verifier]) { client async throws in
                #expect(try await otherLog.push(5, from: 0, to: client).status == 404, "another log's checkpoint")
                #expect(try await impostor.push(5, from: 0, to: client).status == 403, "a checkpoint signed by another key")
                let base = client.url
                #expect(try await Self.post(Array("old 01\n\n".utf8) + log.note(treeSize: 5), to: base) == 400)
                #expect(try await Self.post([UInt8](repeating: 0x41, count: WitnessRequest.maximumByteCount + 1), to: base) == 413)
                let (data, response) = try await URLSession.shared.data(from: base.appendingPathComponent("health/live"))
                #expect((response as? HTTPURLResponse)?.statusCode == 200 && data == Data("live\n".utf8))
            }
            #expect(try WitnessStore(directory: directory.path).latestCheckpoint(of: log.verifier) == nil, "nothing was cosigned")
        }
    }

    @Test func aWitnessDoesNotStartOnARecordTheLogKeyDoesNotVerify() async throws {
        try await withTemporaryDirectory { parent in
            let directory = try Self.witnessDirectory(in: parent)
            let log = try FakeLog(signer: Self.logSigner(), leafCount: 8)
            try await Self.withWitness(directory, logs: [log.verifier]) { client async throws in
                #expect(try await log.push(5, from: 0, to: client).status == 200)
            }
            // The same origin under another key: starting from nothing would let it roll back.
            let otherKey = try Self.logSigner().verifier
            let configuration = WitnessConfiguration(dataDirectory: directory.path, host: "127.0.0.1", port: 0, logVerifiers: [otherKey])
            #expect(throws: ConfigurationError.self) { try WitnessService(configuration: configuration, logger: Logger(label: "integra.witness.test")) }
            let empty = WitnessConfiguration(dataDirectory: parent.path, host: "127.0.0.1", port: 0, logVerifiers: [log.verifier])
            #expect(throws: ConfigurationError.self, "a directory without a witness key") {
                try WitnessService(configuration: empty, logger: Logger(label: "integra.witness.test"))
            }
        }
    }

    @Test func aPushToAWitnessThatNeverAnswersFailsAfterTheTimeout() async throws {
        // Accepts connections and never answers.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { _ in MultiThreadedEventLoopGroup.singleton.any().makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(silent.localAddress?.port)
        let log = try FakeLog(signer: Self.logSigner(), leafCount: 2)
        let witness = try WitnessCosigner(keyName: "witness.example/w1", privateKey: Curve25519.Signing.PrivateKey()).verifier
        let client = WitnessClient(url: URL(string: "http://127.0.0.1:\(port)")!, witness: witness, timeout: .milliseconds(500))
        let started = ContinuousClock.now
        await #expect(throws: WitnessClientError.self) { try await log.push(1, from: 0, to: client) }
        #expect(ContinuousClock.now - started < .seconds(5))
        try await silent.close()
    }

    /// POSTs a raw body to `add-checkpoint`; the status.
    static func post(_ body: [UInt8], to base: URL) async throws -> Int {
        var request = URLRequest(url: base.appendingPathComponent("add-checkpoint"))
        request.httpMethod = "POST"
        request.httpBody = Data(body)
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }
}

extension AddCheckpointResult {
    /// The HTTP status the witness answered with.
    var status: Int {
        switch self {
        case .cosigned: 200
        case .conflict: 409
        case .refused(let status, _): status
        }
    }
}
