public import Crypto
import Foundation
public import IntegraLedger
public import IntegraProtocol

/// Signs checkpoints of the ledger's head with the server's Ed25519 identity key, stores them in
/// the database, and keeps the latest one as an anchor file (`checkpoint.json`, mode 0600) in the
/// data directory, outside the database: a database rewritten or restored from an older copy no
/// longer matches it.
public struct Checkpointer: Sendable {
    public static let anchorFileName = "checkpoint.json"

    private let identityKey: Curve25519.Signing.PrivateKey
    private let anchorPath: String

    public init(identityKey: Curve25519.Signing.PrivateKey, dataDirectory: String) {
        self.identityKey = identityKey
        self.anchorPath = "\(dataDirectory)/\(Self.anchorFileName)"
    }

    /// Signs the current head if it is past the anchor; stores it and moves the anchor forward.
    @discardableResult
    public func checkpoint(store: any LedgerStore, nowMs: Int64) async throws -> LedgerCheckpoint? {
        let head = try await store.head()
        let anchor = Self.loadAnchor(path: self.anchorPath)
        guard head.position > 0, head.position > anchor?.position ?? 0 else { return nil }
        let payload = InclusionProof.checkpointPayload(position: head.position, chainHash: head.chainHash, createdAtMs: nowMs)
        let signature = Array(try self.identityKey.signature(for: payload))
        let checkpoint = LedgerCheckpoint(position: head.position, chainHash: head.chainHash, createdAtMs: nowMs, signature: signature)
        try await store.recordCheckpoint(checkpoint)
        try SecretFile.write(try JSONEncoder().encode(checkpoint), to: self.anchorPath)
        return checkpoint
    }

    /// The anchor kept in the data directory, if any.
    public static func loadAnchor(dataDirectory: String) -> LedgerCheckpoint? {
        Self.loadAnchor(path: "\(dataDirectory)/\(Self.anchorFileName)")
    }

    private static func loadAnchor(path: String) -> LedgerCheckpoint? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(LedgerCheckpoint.self, from: data)
    }

    /// A proof that the entry at `position` is in the ledger: digests of the entries after it
    /// (at most `InclusionProof.maximumDigests`) and a checkpoint signed now at the last of them.
    public func proof(position: UInt64, store: any LedgerStore, nowMs: Int64) async throws -> InclusionProof {
        let start = Int64(clamping: position)
        let entries = try await store.sealedEntries(afterPosition: start - 1, limit: InclusionProof.maximumDigests + 1)
        guard let first = entries.first, first.entry.position == start, let last = entries.last, let lastHash = last.chainHash, lastHash.count == 32 else {
            throw ProtocolError(.entryNotFound, "there is no ledger entry at position \(position)")
        }
        var digests: [UInt8] = []
        digests.reserveCapacity((entries.count - 1) * 32)
        var expected = start
        for sealed in entries.dropFirst() {
            expected += 1
            guard sealed.entry.position == expected else { throw ProtocolError(.entryNotFound, "the ledger has a gap after position \(position)") }
            digests.append(contentsOf: LedgerSeal.entryDigest(sealed.entry))
        }
        let payload = InclusionProof.checkpointPayload(position: last.entry.position, chainHash: lastHash, createdAtMs: nowMs)
        return InclusionProof(
            position: position, digests: digests, checkpointPosition: UInt64(last.entry.position), checkpointChainHash: lastHash,
            checkpointCreatedAtMs: nowMs, checkpointSignature: Array(try self.identityKey.signature(for: payload)))
    }

    /// Whether a checkpoint carries a valid signature by `identity`.
    public static func isAuthentic(_ checkpoint: LedgerCheckpoint, identity: Curve25519.Signing.PublicKey) -> Bool {
        identity.isValidSignature(
            checkpoint.signature,
            for: InclusionProof.checkpointPayload(position: checkpoint.position, chainHash: checkpoint.chainHash, createdAtMs: checkpoint.createdAtMs))
    }
}
