import Foundation
@testable import IntegraLedger
import IntegraTestSupport
import IntegraTransparency
import IntegraVerifier
import Testing

/// Upgrading a ledger written before it had a tree builds the tree from the entries, a run of
/// `TreeBackfill.entriesPerRun` entries per transaction, telling the operator how far it got:
/// an upgrade that fails half way (here, the disk fills up) keeps the runs it committed and the
/// next start resumes after them, with the same root as a tree built in one go.
@Suite(.serialized) struct TreeBackfillTests {
    static let entries = TreeBackfill.entriesPerRun + 5_000

    /// Makes the database refuse the leaf at `leafIndex` as a full disk would.
    static func failingLeafInsert(_ kind: TestStore, leafIndex: Int) -> String {
        switch kind {
        case .sqlite:
            "CREATE TRIGGER disk_full BEFORE INSERT ON tree_nodes WHEN NEW.level = 0 AND NEW.idx = \(leafIndex) BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        case .mariadb:
            "CREATE TRIGGER disk_full BEFORE INSERT ON tree_nodes FOR EACH ROW BEGIN IF NEW.level = 0 AND NEW.idx = \(leafIndex) THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'disk full'; END IF; END"
        }
    }

    /// The progress lines a backfill logged, as "built/total".
    static func progress(_ log: CapturedLog) -> [String] {
        log.entries.filter { $0.message == "building the ledger's Merkle tree" }.compactMap { $0.metadata["entries"].map { "\($0)" } }
    }

    @Test(arguments: TestStore.all)
    func aTreeBuildThatFailsHalfWayResumesAfterTheRunsItCommitted(kind: TestStore) async throws {
        try await kind.withNewStorage { storage in
            try await withClosing(try await storage.open()) { store in
                _ = try await StoreConformanceTests.addUser("holder", store: store)
                for first in stride(from: 0, to: Self.entries, by: 5_000) {
                    let requests = try (first..<min(first + 5_000, Self.entries)).map { index in
                        WriteRequest(nonce: nil, operation: .deposit(DepositIntent(
                            transferID: try TransferID("d\(index)"), recipient: try Username("holder"), amount: Amount(cents: 1))))
                    }
                    _ = try await store.commit(requests, nowMs: 3)
                }
            }
            // The ledger as a version-7 deployment has it after the schema upgrade: entries, no tree.
            try await storage.sql(["DELETE FROM tree_nodes", "DELETE FROM tree_heads"])
            try await storage.sql([Self.failingLeafInsert(kind, leafIndex: TreeBackfill.entriesPerRun + 100)])

            let interrupted = CapturedLog()
            await #expect(throws: LedgerError.self, "the failed run is reported, not skipped") {
                let store = try await storage.openLogging(interrupted.logger)
                await store.close()
            }
            let total = Self.entries
            #expect(Self.progress(interrupted) == ["\(TreeBackfill.entriesPerRun)/\(total)"], "\(interrupted.entries.map(\.message))")

            // The operator frees space and starts again: the build resumes after the committed run.
            try await storage.sql(["DROP TRIGGER disk_full"])
            let resumed = CapturedLog()
            try await withClosing(try await storage.openLogging(resumed.logger)) { store in
                // Starting over would build (and log) the first run again.
                #expect(Self.progress(resumed) == ["\(total)/\(total)"])
                let head = try #require(try await store.latestTreeHead())
                let reference = try await ReferenceMerkleTree.rootHash(of: store)
                #expect(head.treeSize == UInt64(total) && reference.treeSize == UInt64(total))
                #expect(head.rootHash == reference.rootHash, "the resumed tree is the RFC 9162 tree of the entries")
                #expect(head.isSigned(by: testSigner.verifier))
                #expect(
                    try await store.treeHeads(afterTreeSize: 0, limit: 10).map(\.treeSize) == [UInt64(TreeBackfill.entriesPerRun), UInt64(total)],
                    "a head per committed run: the resumed build starts from a signed tree")
                let found = try await LedgerVerifier.run(store: store, seal: testSeal, identity: testIdentityKey.publicKey).violations
                #expect(found.isEmpty, "\(found)")
            }
        }
    }

    /// A ledger of `count` deposits, one group (and head) each, then closed.
    static func ledger(_ storage: StoreUnderTest, count: Int) async throws {
        try await withClosing(try await storage.open()) { store in
            _ = try await StoreConformanceTests.addUser("holder", store: store)
            for index in 0..<count { _ = try await StoreConformanceTests.deposit("holder", cents: 100, id: "d\(index)", store: store) }
        }
    }

    /// A database writer changes a node of the tree's right edge and deletes the latest head, so
    /// that a start would build on the changed node: the start refuses to build or sign, verify
    /// names both findings, and `rebuild-tree`'s rewrite restores the tree and signs the head.
    @Test(arguments: TestStore.all)
    func aStoredTreeNoSignedHeadCommitsToIsNotBuiltOnUntilItIsRebuilt(kind: TestStore) async throws {
        try await kind.withNewStorage { storage in
            try await Self.ledger(storage, count: 10)
            // Size 10's right edge is the nodes (3, 0) and (1, 4).
            try await storage.sql([
                "UPDATE tree_nodes SET hash = \(Tampering.hex([UInt8](repeating: 0xAB, count: 32))) WHERE level = 1 AND idx = 4",
                "DELETE FROM tree_heads WHERE tree_size = 10",
            ])
            let log = CapturedLog()
            try await withClosing(try await storage.openLogging(log.logger)) { store in
                let critical = log.entries.filter { $0.level == .critical }.map(\.message)
                #expect(critical.count == 1 && critical[0].contains("the stored tree goes on past the latest signed head of 9 entries: later heads were deleted"), "\(critical)")
                #expect(try await store.latestTreeHead()?.treeSize == 9, "nothing is signed over the changed node")
                let found = try await LedgerVerifier.run(store: store, seal: testSeal, identity: testIdentityKey.publicKey).violations.map(\.message)
                #expect(found.contains { $0.hasPrefix("the stored tree node at level 1, index 4 (over entries 9 to 10) does not match the entries") }, "\(found)")
                #expect(found.contains("the tree's latest signed head covers 9 of 10 entries"), "\(found)")

                let rewriting = try #require(store as? any TreeNodeRewriting)
                let rewrite = try await rewriting.rewriteTreeNodes { _ in }
                #expect(rewrite.matchedSignedSize == 9 && rewrite.signedSize == 10, "checked at the latest signed head, signed past it")
                let head = try #require(try await store.latestTreeHead())
                let reference = try await ReferenceMerkleTree.rootHash(of: store)
                #expect(head.treeSize == 10 && head.rootHash == reference.rootHash && head.isSigned(by: testSigner.verifier))
                let after = try await LedgerVerifier.run(store: store, seal: testSeal, identity: testIdentityKey.publicKey).violations
                #expect(after.isEmpty, "\(after)")
            }
        }
    }

    /// A node stored far beyond the ledger is not read by anything: no false alarm at a start,
    /// verify has nothing to say, and money moves.
    @Test(arguments: TestStore.all)
    func aNodeStoredBeyondTheLedgerRaisesNoFalseAlarm(kind: TestStore) async throws {
        try await kind.withNewStorage { storage in
            try await Self.ledger(storage, count: 4)
            try await storage.sql(["INSERT INTO tree_nodes (level, idx, hash) VALUES (0, 100, \(Tampering.hex([UInt8](repeating: 0xEE, count: 32))))"])
            let log = CapturedLog()
            try await withClosing(try await storage.openLogging(log.logger)) { store in
                #expect(log.entries.filter { $0.level == .critical }.isEmpty, "\(log.entries.map(\.message))")
                _ = try await StoreConformanceTests.deposit("holder", cents: 1, id: "after", store: store)
                #expect(try await store.latestTreeHead()?.treeSize == 5)
                let found = try await LedgerVerifier.run(store: store, seal: testSeal, identity: testIdentityKey.publicKey).violations
                #expect(found.isEmpty, "\(found)")
            }
        }
    }

    /// The last entry removed together with the tree (the ledger's head still says it was
    /// there): the build stops with the missing entry named instead of going round for ever,
    /// and nothing past the remaining entries is signed.
    @Test(.timeLimit(.minutes(1)), arguments: TestStore.all)
    func aBuildWhoseLastEntriesWereRemovedStopsAndSaysSo(kind: TestStore) async throws {
        try await kind.withNewStorage { storage in
            try await Self.ledger(storage, count: 6)
            let last = try await withClosing(try await storage.open()) { store in try await store.head().position }
            try await storage.sql(["DELETE FROM tree_nodes", "DELETE FROM tree_heads", "DELETE FROM entries WHERE position = \(last)"])
            let log = CapturedLog()
            let open = Task { try await storage.openLogging(log.logger) }
            let store = try await open.value
            try await withClosing(store) { store in
                let head = try await store.head().position
                if head >= last {
                    // The store still says the ledger ends at `last`: the build stops short of it.
                    let critical = log.entries.filter { $0.level == .critical }.map(\.message)
                    #expect(critical.count == 1 && critical[0].contains("no entry follows entry \(last - 1)"), "\(critical)")
                }
                #expect(try await store.latestTreeHead()?.treeSize ?? 0 <= UInt64(last - 1), "nothing signed past the remaining entries")
            }
        }
    }

    /// The rewrite writes nothing on a tree whose latest head is not the identity key's.
    @Test(arguments: TestStore.all)
    func aRebuildRefusesALatestHeadWithoutTheIdentityKeysSignature(kind: TestStore) async throws {
        try await kind.withNewStorage { storage in
            try await Self.ledger(storage, count: 4)
            try await storage.sql(["UPDATE tree_heads SET root_hash = \(Tampering.hex([UInt8](repeating: 0xCD, count: 32))) WHERE tree_size = 4"])
            try await withClosing(try await storage.open()) { store in
                let rewriting = try #require(store as? any TreeNodeRewriting)
                do {
                    try await rewriting.rewriteTreeNodes { _ in }
                    Issue.record("the rewrite went on under a head the identity key did not sign")
                } catch LedgerError.integrityAlarm(let violation) {
                    #expect(violation.message == "the latest stored tree head (4 entries) does not carry the identity key's signature")
                }
            }
        }
    }

    @Test(arguments: TestStore.all)
    func aTreeBuildStopsAtAnEntryThatFailsItsCheckAndSaysSo(kind: TestStore) async throws {
        try await kind.withNewStorage { storage in
            try await withClosing(try await storage.open()) { store in
                _ = try await StoreConformanceTests.addUser("holder", store: store)
                for index in 0..<5 { _ = try await StoreConformanceTests.deposit("holder", cents: 100, id: "d\(index)", store: store) }
            }
            try await storage.sql(["DELETE FROM tree_nodes", "DELETE FROM tree_heads", "UPDATE entries SET amount_cents = 101 WHERE position = 3"])
            let log = CapturedLog()
            let head = try await withClosing(try await storage.openLogging(log.logger)) { store in try await store.latestTreeHead() }
            #expect(head == nil, "nothing unverified is signed")
            let critical = log.entries.filter { $0.level == .critical }.map(\.message)
            let stopped = critical.count == 1 && critical[0].contains("entry 3 does not match its seal or the chain")
            #expect(stopped, "\(critical)")
        }
    }
}
