import Foundation
@testable import IntegraLedger
import IntegraTestSupport
import IntegraTransparency
import Testing

/// Every store keeps the ledger as an RFC 9162 tree in the same transaction as its entries: one
/// signed head per group commit, over exactly the entries committed, and a receipt's proof.
@Suite struct LedgerTreeStoreTests {
    @Test(arguments: TestStore.all)
    func everyGroupThatAppendsSignsOneHeadOverAllEntriesAndProvesItsReceipts(kind: TestStore) async throws {
        try await kind.withNewStore { store in
            let alice = try await StoreConformanceTests.addUser("alice", store: store)
            _ = try await StoreConformanceTests.addUser("bob", store: store)
            #expect(try await store.latestTreeHead() == nil, "creating users appends no entry and signs no head")
            _ = try await StoreConformanceTests.deposit("alice", cents: 10_000, store: store)
            let outcomes = try await store.commit((1...5).map { try! StoreConformanceTests.transfer(alice, to: "bob", cents: 100, id: "t\($0)") }, nowMs: 5)
            let head = try #require(try await store.latestTreeHead())
            let reference = try await ReferenceMerkleTree.rootHash(of: store)
            #expect(head.treeSize == 6 && reference.treeSize == 6)
            #expect(head.rootHash == reference.rootHash, "the signed root is the RFC 9162 root of the entries")
            #expect(head.isSigned(by: testSigner.verifier))
            #expect(try await store.treeHeads(afterTreeSize: 0, limit: 100).map(\.treeSize) == [1, 6], "one head per group that appended")
            for outcome in outcomes {
                guard case .transferred(let receipt) = outcome else { Issue.record("not transferred: \(outcome)"); continue }
                let inclusion = try #require(receipt.inclusion)
                #expect(inclusion.head == head)
                #expect(inclusion.proves(leaf: LedgerSeal.encoding(of: receipt.entry)))
                var forged = LedgerSeal.encoding(of: receipt.entry)
                forged[forged.count - 1] ^= 1
                #expect(!inclusion.proves(leaf: forged), "another entry is not proven")
            }
        }
    }

    @Test(arguments: TestStore.all)
    func aRetriedTransferIsProvenInTheLatestHeadFromStoredNodes(kind: TestStore) async throws {
        try await kind.withNewStore { store in
            let alice = try await StoreConformanceTests.addUser("alice", store: store)
            _ = try await StoreConformanceTests.addUser("bob", store: store)
            _ = try await StoreConformanceTests.deposit("alice", cents: 10_000, store: store)
            _ = try await store.commit([try StoreConformanceTests.transfer(alice, to: "bob", cents: 100, id: "first")], nowMs: 5)
            for index in 0..<6 {
                _ = try await store.commit([try StoreConformanceTests.transfer(alice, to: "bob", cents: 1, id: "later-\(index)")], nowMs: 6)
            }
            let retried = try await store.commit([try StoreConformanceTests.transfer(alice, to: "bob", cents: 100, id: "first")], nowMs: 7)
            guard case .transferred(let receipt) = retried[0] else { throw TestFailure("not transferred: \(retried)") }
            #expect(receipt.isRetry && receipt.entry.position == 2)
            let inclusion = try #require(receipt.inclusion)
            let latest = try await store.latestTreeHead()
            #expect(inclusion.head.treeSize == 8 && inclusion.head == latest)
            #expect(inclusion.proves(leaf: LedgerSeal.encoding(of: receipt.entry)))
        }
    }

    @Test(arguments: TestStore.all)
    func aReopenedStoreAppendsToTheTreeItFindsSignedAndProvenOverTheSameEntries(kind: TestStore) async throws {
        try await kind.withNewStorage { storage in
            try await withClosing(try await storage.open()) { store in
                let alice = try await StoreConformanceTests.addUser("alice", store: store)
                _ = try await StoreConformanceTests.addUser("bob", store: store)
                _ = try await StoreConformanceTests.deposit("alice", cents: 10_000, store: store)
                _ = try await store.commit([try StoreConformanceTests.transfer(alice, to: "bob", cents: 100, id: "a")], nowMs: 5)
            }
            try await withClosing(try await storage.open()) { store in
                let alice = try #require(try await store.user(named: Username("alice")))
                let outcome = try await store.commit([try StoreConformanceTests.transfer(alice, to: "bob", cents: 100, id: "b")], nowMs: 6)
                guard case .transferred(let receipt) = outcome[0] else { throw TestFailure("not transferred: \(outcome)") }
                #expect(try #require(receipt.inclusion).proves(leaf: LedgerSeal.encoding(of: receipt.entry)))
                let head = try #require(try await store.latestTreeHead())
                let reference = try await ReferenceMerkleTree.rootHash(of: store)
                #expect(head.rootHash == reference.rootHash)
            }
        }
    }
}
