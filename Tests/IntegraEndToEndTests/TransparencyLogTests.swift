import Crypto
import Foundation
import IntegraClient
@testable import IntegraLedger
import IntegraProtocol
@testable import IntegraServer
import IntegraTestSupport
import IntegraTransparency
import Testing

/// The transparency log from a customer's side: receipts proven in the current head, and a
/// client that remembers the newest head it verified and refuses a ledger that does not extend
/// it, whether an old copy of the deployment was restored or the server shows another history.
@Suite struct TransparencyLogTests {
    static func identity(_ server: TestServer) -> Curve25519.Signing.PublicKey {
        server.deployment.keys.identityKey.publicKey
    }

    /// The current head as a client sees it after logging in as `user`, proven to extend `earlier`.
    static func head(_ server: TestServer, user: String = "alice", extending earlier: TreeCheckpoint?) async throws -> TreeCheckpoint? {
        try await server.withClient { client in
            try await client.login(username: user, password: TestServer.password)
            return try await client.treeHead(extending: earlier, identity: Self.identity(server))?.checkpoint
        }
    }

    static func refusal(_ body: () async throws -> Void) async -> IntegraClientError? {
        do {
            try await body()
            return nil
        } catch let error as IntegraClientError {
            return error
        } catch {
            return nil
        }
    }

    @Test(arguments: TestStore.all) func receiptsOldAndNewAreProvenInTheCurrentHead(store: TestStore) async throws {
        try await FailClosedTests.withLedger(store) { server, receipt in
            #expect(receipt.signature.isEmpty && !receipt.treeHead.isEmpty, "a tree receipt, no signature of its own")
            // A receipt as a server before the transparency log signed it, for the same entry.
            var legacy = receipt
            legacy.entry = []
            legacy.treeHead = []
            legacy.inclusionPath = []
            legacy = try Receipt.sign(legacy, with: server.deployment.keys.identityKey)
            for index in 0..<5 { _ = try await FailClosedTests.transfer(server, from: "bob", to: "carol", amount: "0.01", id: "later-\(index)").get() }
            let heads = try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                return [try await client.auditInTree(receipt, identity: Self.identity(server)), try await client.auditInTree(legacy, identity: Self.identity(server))]
            }
            #expect(heads.map(\.treeSize) == [10, 10], "proven in the head after every later entry")
            // Someone else's entry is not shown.
            let code = await Self.refusal {
                _ = try await server.withClient { client in
                    try await client.login(username: "carol", password: TestServer.password)
                    return try await client.auditInTree(receipt, identity: Self.identity(server))
                }
            }
            #expect(code?.code == ErrorCode.entryNotFound.rawValue, "\(String(describing: code))")
        }
    }

    @Test func aClientThatSawALaterHeadRefusesAnOldCopyOfTheDeploymentRestored() async throws {
        try await withTemporaryDirectory { directory in
            let backup = directory.appendingPathComponent("backup")
            let live = directory.appendingPathComponent("live")
            try FileManager.default.createDirectory(at: live, withIntermediateDirectories: true)
            let seen = try await FailClosedTests.withLedger(database: nil, directory: live) { server, _ in
                try await Self.head(server, extending: nil)
            }
            // The operator backs the whole data directory up (server stopped), then it runs on.
            try FileManager.default.copyItem(at: live, to: backup)
            let later = try await Self.withServer(live) { server in
                _ = try await FailClosedTests.transfer(server, from: "alice", to: "bob", amount: "3.00", id: "after-backup").get()
                return try await Self.head(server, extending: seen)
            }
            let seenSize = try #require(seen).treeSize
            #expect(try #require(later).treeSize == seenSize + 1)
            // The old copy is restored: the server itself cannot tell, the client can.
            try FileManager.default.removeItem(at: live)
            try FileManager.default.copyItem(at: backup, to: live)
            try await Self.withServer(live) { server in
                let refused = await Self.refusal { _ = try await Self.head(server, extending: later) }
                #expect(refused?.kind == .untrustedReply, "\(String(describing: refused))")
                let message = refused?.message ?? ""
                #expect(message.contains("\(later!.treeSize) entries") && message.contains("\(seen!.treeSize) entries"), "both heads are named: \(message)")
                // A client that never saw the later head is served.
                let again = try await Self.head(server, extending: seen)
                #expect(again?.treeSize == seen?.treeSize)
            }
        }
    }

    @Test func aClientThatSawOneHistoryRefusesAServerShowingAnother() async throws {
        try await withTemporaryDirectory { directory in
            let one = directory.appendingPathComponent("one")
            let other = directory.appendingPathComponent("other")
            try FileManager.default.createDirectory(at: one, withIntermediateDirectories: true)
            _ = try await FailClosedTests.withLedger(database: nil, directory: one) { _, _ in () }
            // The same deployment (keys and ledger) copied: from here the two histories differ.
            try FileManager.default.copyItem(at: one, to: other)
            let seen = try await Self.withServer(one) { server in
                _ = try await FailClosedTests.transfer(server, from: "alice", to: "bob", amount: "5.00", id: "fork").get()
                return try await Self.head(server, extending: nil)
            }
            try await Self.withServer(other) { server in
                _ = try await FailClosedTests.transfer(server, from: "alice", to: "carol", amount: "5.00", id: "fork").get()
                let shown = try await Self.head(server, extending: nil)
                #expect(shown?.treeSize == seen?.treeSize && shown?.rootHash != seen?.rootHash, "same size, another root: a fork")
                let refused = await Self.refusal { _ = try await Self.head(server, extending: seen) }
                #expect(refused?.kind == .untrustedReply, "\(String(describing: refused))")
                #expect(refused?.message.contains(Data(try #require(seen).rootHash).base64EncodedString()) == true, "the head seen is named")
            }
        }
    }

    /// A server on the SQLite ledger in `directory`, as a restart finds it.
    static func withServer<T>(_ directory: URL, _ body: (TestServer) async throws -> T) async throws -> T {
        try await withTestServer(database: nil, directory: directory, configure: { $0.checkpointIntervalMs = 3_600_000 }, body)
    }
}
