import ArgumentParser
import Foundation
import IntegraFiles
import IntegraLedger
import IntegraProtocol
import IntegraStoreFactory
import IntegraTransparency
import NIOCore

/// Times a customer's check of an inclusion proof on a real ledger: the proof the server sends
/// for one entry in the latest signed head (`tree_proofs`), built from the stored nodes, and the
/// client's check of it (the head's signature by the identity key, then the audit path), as
/// `integra audit` does it.
struct Proof: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the client's check of an entry's inclusion proof in the ledger's latest signed head.",
        discussion: "Reads the ledger read-only. Prints the proof's size (hashes, message body, whole frame) and the check's median and 99th percentile over --rounds.")

    @OptionGroup var ledger: LedgerLocationOptions

    @Option(name: .long, help: "The entry's position (1 is the first).")
    var position: Int64 = 1

    @Option(name: .long, help: "Checks to time.")
    var rounds = 1_000

    func validate() throws {
        guard self.position >= 1 else { throw ValidationError("--position must be at least 1") }
        guard (1...1_000_000).contains(self.rounds) else { throw ValidationError("--rounds must be 1 to 1000000") }
    }

    func run() async throws {
        let keys = try DeploymentKeys.load(in: self.ledger.dataDir)
        let store = try await StoreFactory.open(try self.ledger.location(), connections: 2, keys: keys, access: .readOnly)
        let proofs: TreeProofs
        do {
            proofs = try await Self.proofs(position: self.position, store: store)
            await store.close()
        } catch {
            await store.close()
            throw error
        }
        var writer = FieldWriter(buffer: ByteBuffer())
        ServerMessage.treeProofs(proofs).encodeBody(into: &writer)
        let body = writer.buffer.readableBytes
        let identity = keys.identityKey.publicKey
        guard let head = proofs.verifiedHead(identity: identity), proofs.provesEntry(at: UInt64(self.position), in: head) else {
            throw FillFailure("the proof of entry \(self.position) does not verify")
        }
        var nanoseconds: [Int64] = []
        nanoseconds.reserveCapacity(self.rounds)
        for _ in 0..<self.rounds {
            let started = ContinuousClock.now
            guard let head = proofs.verifiedHead(identity: identity), proofs.provesEntry(at: UInt64(self.position), in: head) else {
                throw FillFailure("the proof of entry \(self.position) stopped verifying")
            }
            let (seconds, attoseconds) = (ContinuousClock.now - started).components
            nanoseconds.append(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
        nanoseconds.sort()
        let median = Double(nanoseconds[nanoseconds.count / 2]) / 1_000
        let p99 = Double(nanoseconds[min(nanoseconds.count - 1, nanoseconds.count * 99 / 100)]) / 1_000
        // The whole frame: length field, header, body and MAC (the TLS record adds its own).
        let frame = FrameFormat.lengthFieldBytes + FrameFormat.minimumFrameBytes + body
        print(String(
            format: "proof: entry %lld in a head of %llu entries: %d hashes, body %d bytes, frame %d of at most %d bytes; checked in %.1f µs median, %.1f µs p99 (%d rounds)",
            self.position, head.treeSize, proofs.inclusionPath.count, body, frame, FrameFormat.defaultMaximumFrameBytes, median, p99, self.rounds))
    }

    /// The `tree_proofs` answer for the entry at `position` in the latest head, from stored nodes.
    static func proofs(position: Int64, store: any LedgerStore) async throws -> TreeProofs {
        guard let head = try await store.latestTreeHead() else { throw FillFailure("the ledger has no signed tree head") }
        guard let sealed = try await store.sealedEntries(afterPosition: position - 1, limit: 1).first, sealed.entry.position == position,
              UInt64(position) <= head.treeSize
        else { throw FillFailure("no entry \(position) in the latest head (\(head.treeSize) entries)") }
        let plan = try MerkleProofPlan.inclusion(leafIndex: LedgerTree.leafIndex(ofPosition: position), treeSize: head.treeSize)
        let stored = try await store.treeNodes(plan.nodeIDs)
        guard let inclusion = LedgerTree.storedInclusion(of: sealed.entry, in: head, nodes: { _ in stored }) else {
            throw FillFailure("the stored nodes do not prove entry \(position)")
        }
        return TreeProofs(treeHead: head.note, entry: LedgerSeal.encoding(of: sealed.entry), inclusionPath: inclusion.path)
    }
}
