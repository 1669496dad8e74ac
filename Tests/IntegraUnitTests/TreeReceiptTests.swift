import Crypto
import Foundation
import IntegraClient
@testable import IntegraLedger
import IntegraProtocol
@testable import IntegraServer
import IntegraTransparency
import NIOCore
import Testing

/// A receipt is the entry, the head the server signed for its group and the audit path to it;
/// a client checks it offline with the server's identity key alone.
@Suite struct TreeReceiptTests {
    static let identity = Curve25519.Signing.PrivateKey()

    /// Receipts of a group of `count` transfers appended after `before` earlier entries.
    static func receipts(before: Int, count: Int, identity: Curve25519.Signing.PrivateKey = Self.identity) throws -> [TransferConfirmation] {
        let signer = TreeHeadSigner(identityKey: identity)
        func entry(_ position: Int) -> LedgerEntry {
            LedgerEntry(
                position: Int64(position), kind: .transfer, transferID: try! TransferID("t\(position)"), fromUserID: 1, from: try! Username("alice"),
                toUserID: 2, to: try! Username("bob"), amount: Amount(cents: 100 + Int64(position)), fromBalanceAfterCents: 5_000,
                toBalanceAfterCents: 7_000, createdAtMs: 1_700_000_000_000)
        }
        let earlier = try MerkleFrontier().appending(leafHashes: (1...max(1, before)).prefix(before).map { LedgerTree.leafHash(of: entry($0)) }).frontier
        let group = (before + 1...before + count).map(entry)
        let batch = try LedgerTree.append(group, to: earlier, signer: signer, nowMs: 1)
        return group.map { entry in
            LedgerService.confirmation(TransferReceipt(
                entry: entry, isRetry: false, chainHash: Array(repeating: 9, count: 32), inclusion: batch.inclusionProof(position: entry.position)))!
        }
    }

    @Test(arguments: [(0, 1), (0, 7), (5, 3), (1_000, 17)])
    func everyReceiptOfAGroupVerifiesAgainstTheOneHeadSignedForIt(before: Int, count: Int) throws {
        let receipts = try Self.receipts(before: before, count: count)
        #expect(Set(receipts.map(\.treeHead)).count == 1, "one signed head for the group")
        for receipt in receipts {
            #expect(receipt.signature.isEmpty, "no signature per receipt")
            #expect(Receipt.isValid(receipt, identity: Self.identity.publicKey))
            #expect(Receipt.provenHead(receipt, identity: Self.identity.publicKey)?.treeSize == UInt64(before + count))
        }
    }

    @Test func aReceiptChangedAnywhereOrSignedByAnotherKeyIsRefused() throws {
        let receipt = try #require(try Self.receipts(before: 10, count: 4).last)
        var amount = receipt
        amount.amount = "1000.00"
        var recipient = receipt
        recipient.recipient = "mallory"
        var path = receipt
        path.inclusionPath[0][0] ^= 1
        var position = receipt
        position.position -= 1
        var entry = receipt
        entry.entry[entry.entry.count - 1] ^= 1
        var head = receipt
        head.treeHead[10] ^= 1
        for forged in [amount, recipient, path, position, entry, head] {
            #expect(!Receipt.isValid(forged, identity: Self.identity.publicKey))
        }
        let other = try #require(try Self.receipts(before: 10, count: 4, identity: Curve25519.Signing.PrivateKey()).last)
        #expect(!Receipt.isValid(other, identity: Self.identity.publicKey), "a head signed by another key")
    }

    /// A head whose signature was checked once is not checked again, but only the same bytes
    /// under the same key are taken from the cache: a changed head or another key is checked,
    /// and refused, even right after the genuine head was cached.
    @Test func aCachedHeadIsTakenOnlyForTheSameBytesUnderTheSameKey() throws {
        let cache = VerifiedHeadCache(capacity: 2)
        let receipt = try #require(try Self.receipts(before: 3, count: 2).last)
        var opened = 0
        func check(_ note: [UInt8], _ identity: Curve25519.Signing.PublicKey) -> TreeCheckpoint? {
            cache.checkpoint(note: note, identity: identity) {
                opened += 1
                return try? TreeCheckpoint.opening(note, logVerifier: TreeHeadKey.verifier(identity: identity))
            }
        }
        #expect(check(receipt.treeHead, Self.identity.publicKey)?.treeSize == 5)
        #expect(check(receipt.treeHead, Self.identity.publicKey)?.treeSize == 5)
        #expect(opened == 1, "the second receipt of the head is not checked again")
        var changed = receipt.treeHead
        changed[10] ^= 1
        #expect(check(changed, Self.identity.publicKey) == nil)
        #expect(check(receipt.treeHead, Curve25519.Signing.PrivateKey().publicKey) == nil, "another key")
        #expect(opened == 3 && cache.count == 1, "refused heads are not remembered")
        // Two more heads fill the cache: the first is replaced and checked again.
        for before in [10, 20] {
            let other = try #require(try Self.receipts(before: before, count: 1).last)
            #expect(check(other.treeHead, Self.identity.publicKey) != nil)
        }
        #expect(cache.count == 2)
        #expect(check(receipt.treeHead, Self.identity.publicKey)?.treeSize == 5)
        #expect(opened == 6)
    }

    @Test func aReceiptOfAnEarlierServerStillVerifiesByItsSignature() throws {
        let legacy = TransferConfirmation(
            transferID: "t1", position: 1, sender: "alice", recipient: "bob", amount: "1.00", balanceAfter: "9.00", createdAtMs: 1, isRetry: false,
            chainHash: Array(repeating: 3, count: 32))
        let signed = try Receipt.sign(legacy, with: Self.identity)
        #expect(Receipt.isValid(signed, identity: Self.identity.publicKey))
        var changed = signed
        changed.amount = "2.00"
        #expect(!Receipt.isValid(changed, identity: Self.identity.publicKey))
    }

    @Test func aTreeReceiptSurvivesTheWire() throws {
        let receipt = try #require(try Self.receipts(before: 3, count: 2).first)
        var writer = FieldWriter(buffer: ByteBuffer())
        ServerMessage.transferred(receipt).encodeBody(into: &writer)
        let decoded = try ServerMessage.decode(type: MessageType.transferred.rawValue, body: writer.buffer)
        #expect(decoded == .transferred(receipt))
    }

    @Test func aTreeReceiptKeptOnDiskStillVerifiesAndAnOldFileStillReads() throws {
        let receipt = try #require(try Self.receipts(before: 3, count: 2).first)
        let file = ReceiptFile(receipt)
        #expect(file.version == 2 && file.signature == nil)
        let reread = try JSONDecoder().decode(ReceiptFile.self, from: try file.encoded())
        let confirmation = try #require(reread.confirmation)
        #expect(Receipt.isValid(confirmation, identity: Self.identity.publicKey))
        var tampered = reread
        tampered.amount = "999.00"
        #expect(!Receipt.isValid(try #require(tampered.confirmation), identity: Self.identity.publicKey))
        // A version 1 file, as earlier clients wrote it.
        let legacy = try Receipt.sign(TransferConfirmation(
            transferID: "t1", position: 1, sender: "alice", recipient: "bob", amount: "1.00", balanceAfter: "9.00", createdAtMs: 1, isRetry: false,
            chainHash: Array(repeating: 3, count: 32)), with: Self.identity)
        let oldJSON = """
            {"amount":"1.00","balanceAfter":"9.00","chainHash":"\(legacy.chainHash.map { String(format: "%02x", $0) }.joined())","createdAtMs":1,            "position":1,"recipient":"bob","sender":"alice","signature":"\(legacy.signature.map { String(format: "%02x", $0) }.joined())",            "transferID":"t1","version":1}
            """
        let old = try JSONDecoder().decode(ReceiptFile.self, from: Data(oldJSON.utf8))
        #expect(Receipt.isValid(try #require(old.confirmation), identity: Self.identity.publicKey))
    }
}

/// A proof at the scale of a busy ledger stays small: the first entry of a 1,000,000-entry
/// ledger is proven with 20 hashes, in one frame.
@Suite struct LargeTreeProofTests {
    @Test func theFirstEntryOfAMillionEntryLedgerIsProvenInOneFrame() throws {
        var frontier = MerkleFrontier()
        var nodes: [MerkleNodeID: [UInt8]] = [:]
        let leafCount = 1_000_000
        var next = 0
        while next < leafCount {
            let count = min(MerkleFrontier.maximumBatchLeafCount, leafCount - next)
            let appended = try frontier.appending(leafHashes: (next..<next + count).map { MerkleTree.leafHash(Array("entry \($0)".utf8)) })
            for node in appended.nodes { nodes[node.id] = node.hash }
            frontier = appended.frontier
            next += count
        }
        let plan = try MerkleProofPlan.inclusion(leafIndex: 0, treeSize: UInt64(leafCount))
        let path = try plan.hashes(from: nodes)
        #expect(path.count == 20)
        let identity = Curve25519.Signing.PrivateKey()
        let head = try TreeHeadSigner(identityKey: identity).sign(treeSize: UInt64(leafCount), rootHash: frontier.rootHash, createdAtMs: 0)
        let proofs = TreeProofs(treeHead: head.note, entry: Array("entry 0".utf8), inclusionPath: path)
        var writer = FieldWriter(buffer: ByteBuffer())
        ServerMessage.treeProofs(proofs).encodeBody(into: &writer)
        #expect(!writer.overflowed && writer.buffer.readableBytes < 1_024, "\(writer.buffer.readableBytes) bytes of body")
        let checked = try #require(proofs.verifiedHead(identity: identity.publicKey))
        #expect(proofs.provesEntry(at: 1, in: checked))
        // How long a client takes to check it (signature and path), for the record; not asserted.
        let rounds = 200
        let started = ContinuousClock.now
        for _ in 0..<rounds {
            guard let head = proofs.verifiedHead(identity: identity.publicKey), proofs.provesEntry(at: 1, in: head) else { Issue.record("a check failed"); return }
        }
        print("tree proof of entry 1 in a 1,000,000-entry tree: \(path.count) hashes, body \(writer.buffer.readableBytes) bytes, checked in \((ContinuousClock.now - started) / rounds) (this build)")
    }
}

/// What a store trusts of the stored tree when its head moved elsewhere (`LedgerTreeCheck`).
@Suite struct LedgerTreeCheckTests {
    static let signer = TreeHeadSigner(identityKey: Curve25519.Signing.PrivateKey())

    static func entry(_ position: Int) -> LedgerEntry {
        LedgerEntry(
            position: Int64(position), kind: .deposit, transferID: try! TransferID("d\(position)"), fromUserID: 0, from: Username(trustedCanonical: "system"),
            toUserID: 1, to: try! Username("alice"), amount: Amount(cents: 1), fromBalanceAfterCents: -Int64(position), toBalanceAfterCents: Int64(position),
            createdAtMs: 1)
    }

    /// The tree of `count` entries: its frontier, every node, and its signed head.
    static func tree(_ count: Int) throws -> (frontier: MerkleFrontier, nodes: [MerkleNodeID: [UInt8]], head: SignedTreeHead) {
        var frontier = MerkleFrontier()
        var nodes: [MerkleNodeID: [UInt8]] = [:]
        var next = 1
        while next <= count {
            let end = min(next + MerkleFrontier.maximumBatchLeafCount, count + 1)
            let appended = try frontier.appending(leafHashes: (next..<end).map { LedgerTree.leafHash(of: Self.entry($0)) })
            for node in appended.nodes { nodes[node.id] = node.hash }
            frontier = appended.frontier
            next = end
        }
        return (frontier, nodes, try Self.signer.sign(treeSize: frontier.treeSize, rootHash: frontier.rootHash, createdAtMs: 1))
    }

    @Test func entriesWrittenElsewhereExtendTheKnownTreeEvenPastOneAppendsLimit() throws {
        let known = try Self.tree(10)
        let count = 10 + MerkleFrontier.maximumBatchLeafCount + 5
        let now = try Self.tree(count)
        let written = (11...count).map(Self.entry)
        let result = LedgerTreeCheck.verifiedTree(
            cached: VerifiedTree(frontier: known.frontier, head: known.head), headPosition: Int64(count), verifier: Self.signer.verifier,
            entriesSinceCached: written, latestStoredHead: { now.head }, storedNodes: { ids in now.nodes.filter { ids.contains($0.key) } })
        guard case .success(let tree) = result else { Issue.record("refused: \(result)"); return }
        #expect(tree.head == now.head)
    }

    @Test func aStoredRightEdgeThatDoesNotFoldToTheSignedRootIsRefused() throws {
        let now = try Self.tree(37)
        var nodes = now.nodes
        let edge = MerkleFrontier.nodeIDs(treeSize: 37)[0]
        nodes[edge]![0] ^= 1
        let result = LedgerTreeCheck.verifiedTree(
            cached: nil, headPosition: 37, verifier: Self.signer.verifier, entriesSinceCached: nil,
            latestStoredHead: { now.head }, storedNodes: { ids in nodes.filter { ids.contains($0.key) } })
        guard case .failure(let violation) = result else { Issue.record("accepted a changed node"); return }
        #expect(violation.kind == .treeMismatch)
        // A head signed by another key, or for another size, is refused too.
        let forged = try TreeHeadSigner(identityKey: Curve25519.Signing.PrivateKey()).sign(treeSize: 37, rootHash: now.head.rootHash, createdAtMs: 1)
        for head in [forged, now.head] {
            let size: Int64 = head == forged ? 37 : 38
            let refused = LedgerTreeCheck.verifiedTree(
                cached: nil, headPosition: size, verifier: Self.signer.verifier, entriesSinceCached: nil,
                latestStoredHead: { head }, storedNodes: { ids in now.nodes.filter { ids.contains($0.key) } })
            guard case .failure = refused else { Issue.record("accepted \(head.treeSize) for \(size)"); continue }
        }
    }
}
