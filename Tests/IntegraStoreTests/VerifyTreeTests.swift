import Foundation
@testable import IntegraLedger
import IntegraProtocol
@testable import IntegraServer
import IntegraTestSupport
import IntegraTransparency
@testable import IntegraVerifier
import Testing

/// `verify` recomputes the ledger's RFC 9162 tree from the entries and holds every stored signed
/// head to it: a changed root, a broken signature, a missing latest head and a head beyond the
/// ledger are each reported as a tree mismatch, naming the head's size.
@Suite struct VerifyTreeTests {
    /// The fold verify uses gives the reference root at every size from 0 to 300.
    @Test func foldGivesTheReferenceRootAtEverySize() {
        var fold = MerkleFold()
        #expect(fold.rootHash == ReferenceMerkleTree.rootHash([]), "the empty tree")
        let leaves = (0..<300).map { index in (0..<(index % 37 + 1)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) } }
        for size in 1...300 {
            fold.append(leaf: leaves[size - 1])
            #expect(fold.treeSize == UInt64(size))
            #expect(fold.rootHash == ReferenceMerkleTree.rootHash(leaves[..<size]), "size \(size)")
        }
    }

    /// The stored heads of the test ledger, smallest first.
    static func heads(_ server: TestServer) async throws -> [SignedTreeHead] {
        try await server.store.treeHeads(afterTreeSize: 0, limit: 1_000)
    }

    static func entryCount(_ server: TestServer) async throws -> UInt64 {
        UInt64(try await server.store.sealedEntries(afterPosition: 0, limit: 1_000).count)
    }

    @Test(arguments: TestStore.all) func aCleanLedgerVerifiesWithItsTree(store: TestStore) async throws {
        try await TamperTests.withLedger(store) { server in
            let heads = try await Self.heads(server)
            let entries = try await Self.entryCount(server)
            #expect(heads.count >= 2 && heads.last?.treeSize == entries, "\(heads.map(\.treeSize)) for \(entries) entries")
            #expect(try await Tampering.violations(server).isEmpty)
        }
    }

    @Test(arguments: TestStore.all) func aChangedLatestRootIsReportedWithTheRangeOfEntriesItBounds(store: TestStore) async throws {
        try await TamperTests.withLedger(store) { server in
            let heads = try await Self.heads(server)
            let latest = try #require(heads.last)
            let previous = heads.dropLast().last?.treeSize ?? 0
            try await Tampering.tamper(server, "UPDATE tree_heads SET root_hash = \(Tampering.hex([UInt8](repeating: 0xAB, count: 32))) WHERE tree_size = \(latest.treeSize)")
            let found = try await Tampering.violations(server)
            #expect(found.allSatisfy { $0.kind == .treeMismatch }, "\(found)")
            #expect(found.contains {
                $0.message.hasPrefix("the signed head of \(latest.treeSize) entries does not match the entries: its root differs")
                    && $0.message.contains("between positions \(previous + 1) and \(latest.treeSize)")
            }, "\(found)")
            // The note still signs the old root: the head no longer carries a valid signature.
            #expect(found.contains { $0.message == "the signed head of \(latest.treeSize) entries does not carry the identity key's signature" }, "\(found)")
        }
    }

    @Test(arguments: TestStore.all) func aChangedEarlierRootIsReportedAsAChangedHead(store: TestStore) async throws {
        try await TamperTests.withLedger(store) { server in
            let heads = try await Self.heads(server)
            let changed = try #require(heads.dropLast().last)
            let latest = try #require(heads.last)
            try await Tampering.tamper(server, "UPDATE tree_heads SET root_hash = \(Tampering.hex([UInt8](repeating: 0xCD, count: 32))) WHERE tree_size = \(changed.treeSize)")
            let found = try await Tampering.violations(server)
            #expect(found.allSatisfy { $0.kind == .treeMismatch }, "\(found)")
            #expect(found.contains {
                $0.message == "the signed head of \(changed.treeSize) entries does not match the entries: its root differs, but the later head of \(latest.treeSize) entries matches them: the stored heads were changed"
            }, "\(found)")
        }
    }

    @Test(arguments: TestStore.all) func aFlippedSignatureByteIsReported(store: TestStore) async throws {
        try await TamperTests.withLedger(store) { server in
            let head = try #require(try await Self.heads(server).first)
            var note = head.note
            // Inside the base64 signature, well before its padding.
            let index = note.count - 12
            note[index] = note[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            try await Tampering.tamper(server, "UPDATE tree_heads SET note = \(Tampering.hex(note)) WHERE tree_size = \(head.treeSize)")
            let found = try await Tampering.violations(server)
            #expect(found.map(\.kind) == [.treeMismatch], "\(found)")
            #expect(found.first?.message == "the signed head of \(head.treeSize) entries does not carry the identity key's signature", "\(found)")
        }
    }

    @Test(arguments: TestStore.all) func aDeletedLatestHeadIsReported(store: TestStore) async throws {
        try await TamperTests.withLedger(store) { server in
            let heads = try await Self.heads(server)
            let latest = try #require(heads.last)
            let previous = try #require(heads.dropLast().last)
            try await Tampering.tamper(server, "DELETE FROM tree_heads WHERE tree_size = \(latest.treeSize)")
            let found = try await Tampering.violations(server)
            #expect(found.map(\.kind) == [.treeMismatch], "\(found)")
            #expect(found.first?.message == "the tree's latest signed head covers \(previous.treeSize) of \(latest.treeSize) entries", "\(found)")
        }
    }

    @Test(arguments: TestStore.all) func aHeadBeyondTheLedgerIsReported(store: TestStore) async throws {
        try await TamperTests.withLedger(store) { server in
            let latest = try #require(try await Self.heads(server).last)
            let beyond = latest.treeSize + 5
            try await Tampering.tamper(server, """
                INSERT INTO tree_heads (tree_size, root_hash, created_at_ms, note) \
                VALUES (\(beyond), \(Tampering.hex(latest.rootHash)), \(latest.createdAtMs), \(Tampering.hex(latest.note)))
                """)
            let found = try await Tampering.violations(server)
            #expect(found.allSatisfy { $0.kind == .treeMismatch }, "\(found)")
            #expect(found.contains { $0.message == "the signed head of \(beyond) entries covers more than the ledger's \(latest.treeSize) entries: entries were removed" }, "\(found)")
        }
    }

    /// A changed entry is a different leaf: every head from the first covering it fails.
    @Test(arguments: TestStore.all) func aChangedEntryFailsTheHeadsThatCoverIt(store: TestStore) async throws {
        try await TamperTests.withLedger(store) { server in
            let heads = try await Self.heads(server)
            let covering = try #require(heads.first(where: { $0.treeSize >= 4 }))
            let before = heads.last(where: { $0.treeSize < 4 })?.treeSize ?? 0
            try await Tampering.tamper(server, "UPDATE entries SET amount_cents = 999900 WHERE position = 4")
            let found = try await Tampering.violations(server)
            #expect(found.contains { $0.kind == .entryChanged }, "\(found)")
            #expect(found.contains {
                $0.kind == .treeMismatch && $0.message.hasPrefix("the signed head of \(covering.treeSize) entries does not match the entries: its root differs")
                    && $0.message.contains("between positions \(before + 1) and \(covering.treeSize)")
            }, "covering \(covering.treeSize), before \(before): \(found)")
            // The stored leaf is the entry as signed: the nodes are not what to repair.
            #expect(!found.contains { $0.message.contains("stored tree node") }, "\(found)")
        }
    }

    /// The fold hands verify every node an appended leaf completes, each equal to the reference
    /// hash of its perfect subtree: n / 2^L nodes (rounded down) at each level L.
    @Test func foldHandsOverEveryCompletedNodeWithTheReferenceHash() {
        var fold = MerkleFold()
        let leaves = (0..<300).map { index in [UInt8(truncatingIfNeeded: index), UInt8(truncatingIfNeeded: index >> 8), 7] }
        var completed = 0
        for leaf in leaves {
            var leafHash = [UInt8](repeating: 0, count: 32)
            ([0x00] + leaf).withUnsafeBytes { input in leafHash.withUnsafeMutableBytes { EntrySealHasher.sha256(input, into: $0) } }
            leafHash.withUnsafeBytes { leafHash in
                fold.append(leafHash: leafHash) { level, index, hash in
                    completed += 1
                    let first = Int(index) << level
                    #expect(Array(hash) == ReferenceMerkleTree.rootHash(leaves[first..<first + (1 << level)]), "node (\(level), \(index))")
                }
            }
        }
        #expect(completed == (0..<10).map { leaves.count >> $0 }.reduce(0, +))
    }

    /// A database writer changes one stored node (entries and heads intact): verify names it,
    /// with the entries it covers, and only it.
    @Test(arguments: TestStore.all) func aChangedStoredNodeIsNamedWithTheEntriesItCovers(store: TestStore) async throws {
        try await TamperTests.withLedger(store) { server in
            try await Tampering.tamper(server, "UPDATE tree_nodes SET hash = \(Tampering.hex([UInt8](repeating: 0xAB, count: 32))) WHERE level = 1 AND idx = 1")
            let found = try await Tampering.violations(server)
            #expect(found.map(\.kind) == [.treeMismatch], "\(found)")
            #expect(found.first?.message == "the stored tree node at level 1, index 1 (over entries 3 to 4) does not match the entries: proofs through it are refused until `integra-server rebuild-tree` rewrites the nodes from the verified entries", "\(found)")
        }
    }

    @Test(arguments: TestStore.all) func deletedStoredNodesAreNamedByTheFirstAndCounted(store: TestStore) async throws {
        try await TamperTests.withLedger(store) { server in
            try await Tampering.tamper(server, "DELETE FROM tree_nodes WHERE level = 0 AND idx >= 2")
            let entries = try await Self.entryCount(server)
            let found = try await Tampering.violations(server)
            #expect(found.map(\.kind) == [.treeMismatch], "\(found)")
            #expect(found.first?.message == "the stored tree node at level 0, index 2 (over entry 3) is missing (and \(entries - 3) more stored nodes differ): proofs through it are refused until `integra-server rebuild-tree` rewrites the nodes from the verified entries", "\(found)")
        }
    }

    /// Past a missing entry the tree cannot be checked: said once, not once per head.
    @Test(arguments: TestStore.all) func aMissingEntryStopsTheTreeCheckOnce(store: TestStore) async throws {
        try await TamperTests.withLedger(store) { server in
            try await Tampering.tamper(server, "DELETE FROM entries WHERE position = 3")
            let found = try await Tampering.violations(server)
            #expect(found.filter { $0.kind == .treeMismatch }.map(\.message) == [
                "the tree is checked only up to entry 2: entry 3 is missing, and the leaves of every later signed head with it",
            ], "\(found)")
        }
    }
}
