public import Crypto
import Foundation
import IntegraFiles
public import IntegraLedger
public import IntegraProtocol

/// Signs checkpoints of the ledger with the server's Ed25519 identity key, and keeps the latest
/// one as an anchor outside the database: `checkpoint.json` in the data directory (replaced
/// atomically, mode 0600), with every anchor also appended to `checkpoint-history.jsonl`. A
/// database rewritten or restored from an older copy no longer matches the anchor.
///
/// It signs only what it is given: the chain points that `IntegrityMonitor` verified.
public struct Checkpointer: Sendable {
    public static let anchorFileName = "checkpoint.json"
    public static let historyFileName = "checkpoint-history.jsonl"

    private let identityKey: Curve25519.Signing.PrivateKey
    private let dataDirectory: String

    public init(identityKey: Curve25519.Signing.PrivateKey, dataDirectory: String) {
        self.identityKey = identityKey
        self.dataDirectory = dataDirectory
    }

    /// What the data directory holds as its anchor.
    public enum Anchor: Sendable {
        /// No anchor and no anchor history: a deployment that never signed a checkpoint.
        case absent
        case present(LedgerCheckpoint)
        /// `checkpoint.json` is missing although checkpoints were signed, or empty, truncated or
        /// not an anchor.
        case unreadable(String)
    }

    /// Signs a verified point of the chain.
    public func sign(_ point: LedgerIntegrity.ChainPoint, nowMs: Int64) throws -> LedgerCheckpoint {
        let payload = InclusionProof.checkpointPayload(position: point.position, chainHash: point.chainHash, createdAtMs: nowMs)
        let signature = Array(try self.identityKey.signature(for: payload))
        return LedgerCheckpoint(position: point.position, chainHash: point.chainHash, createdAtMs: nowMs, signature: signature)
    }

    /// Makes `checkpoint` the anchor: appended to the history, then `checkpoint.json` replaced.
    public func writeAnchor(_ checkpoint: LedgerCheckpoint) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(checkpoint)
        try SecretFile.append(data + Data("\n".utf8), to: "\(self.dataDirectory)/\(Self.historyFileName)")
        try SecretFile.write(data, to: "\(self.dataDirectory)/\(Self.anchorFileName)")
    }

    /// What is wrong with the ledger in `store` against an authentic anchor, if anything: it
    /// ends before the anchor's entry (rolled back) or that entry's chain hash differs (rewritten).
    public static func violation(of anchor: LedgerCheckpoint, in store: any LedgerStore) async throws(LedgerError) -> IntegrityViolation? {
        guard anchor.position > 0 else { return nil }
        guard let entry = try await store.entry(at: anchor.position) else {
            let head = try await store.head()
            return IntegrityViolation(
                kind: .ledgerRolledBack,
                message: "the ledger ends at entry \(head.position) but the last signed checkpoint covers entry \(anchor.position): entries were removed or an older copy of the database was restored")
        }
        guard entry.sealed.chainHash == anchor.chainHash else {
            return IntegrityViolation(kind: .historyRewritten, message: "entry \(anchor.position) no longer has the chain hash its checkpoint signed: history was rewritten")
        }
        return nil
    }

    /// The anchor kept in the data directory.
    public static func loadAnchor(dataDirectory: String) -> Anchor {
        let path = "\(dataDirectory)/\(Self.anchorFileName)"
        let data: Data?
        do {
            data = try SecretFile.read(path, maximumBytes: 64 << 10)
        } catch {
            return .unreadable("\(error)")
        }
        guard let data else {
            let history = (try? SecretFile.read("\(dataDirectory)/\(Self.historyFileName)", maximumBytes: 256 << 20)) ?? nil
            return history?.isEmpty ?? true ? .absent : .unreadable("\(path) is missing but \(Self.historyFileName) records signed checkpoints")
        }
        guard let anchor = try? JSONDecoder().decode(LedgerCheckpoint.self, from: data), anchor.position >= 0 else {
            return .unreadable("\(path) is empty, truncated or not a checkpoint (\(data.count) bytes)")
        }
        return .present(anchor)
    }

    /// A proof that the entry at `position` is in the ledger, checked here before it is signed:
    /// the entry itself and the entries after it (at most `InclusionProof.maximumDigests`) must be
    /// genuine and chain from one to the next, and the proof ends no later than `verified`, the
    /// point `IntegrityMonitor` verified. The answer carries the entry's canonical encoding and
    /// the chain hash before it, so the client compares it with its receipt field by field.
    public func proof(
        position: UInt64, store: any LedgerStore, seal: LedgerSeal, verified: LedgerIntegrity.ChainPoint, partyUserID: Int64?, nowMs: Int64
    ) async throws -> InclusionProof {
        let notFound = ProtocolError(.entryNotFound, "there is no ledger entry of yours at position \(position)")
        guard let start = Int64(exactly: position), start >= 1, start <= verified.position,
              let requested = try await store.entry(at: start)
        else {
            throw notFound
        }
        if let party = partyUserID, requested.sealed.entry.fromUserID != party && requested.sealed.entry.toUserID != party {
            throw notFound
        }
        if let violation = LedgerIntegrity.check(requested, seal: seal) { throw LedgerError.integrityAlarm(violation) }
        let last = min(verified.position, start + Int64(InclusionProof.maximumDigests))
        let later = last > start ? try await store.sealedEntries(afterPosition: start, limit: Int(last - start)) : []
        let origin = LedgerIntegrity.ChainPoint(position: start, chainHash: requested.sealed.chainHash ?? [])
        let end: LedgerIntegrity.ChainPoint
        switch LedgerIntegrity.extend(from: origin, with: later, seal: seal) {
        case .success(let point): end = point
        case .failure(let violation): throw LedgerError.integrityAlarm(violation)
        }
        guard end.position == last else {
            throw LedgerError.integrityAlarm(IntegrityViolation(kind: .entriesMissing, message: "entries \(end.position + 1) to \(last) are missing (deleted)"))
        }
        if end.position == verified.position && end.chainHash != verified.chainHash {
            throw LedgerError.integrityAlarm(IntegrityViolation(kind: .historyRewritten, message: "entry \(end.position) no longer has the chain hash it was verified with"))
        }
        var digests: [UInt8] = []
        digests.reserveCapacity(later.count * LedgerSeal.hashByteCount)
        for sealed in later { digests.append(contentsOf: LedgerSeal.entryDigest(sealed.entry)) }
        let checkpoint = try self.sign(end, nowMs: nowMs)
        return InclusionProof(
            position: position, digests: digests, checkpointPosition: UInt64(end.position), checkpointChainHash: end.chainHash,
            checkpointCreatedAtMs: nowMs, checkpointSignature: checkpoint.signature,
            entry: LedgerSeal.encoding(of: requested.sealed.entry),
            previousChainHash: requested.previousChainHash ?? [])
    }

    /// Whether a checkpoint carries a valid signature by `identity`.
    public static func isAuthentic(_ checkpoint: LedgerCheckpoint, identity: Curve25519.Signing.PublicKey) -> Bool {
        identity.isValidSignature(
            checkpoint.signature,
            for: InclusionProof.checkpointPayload(position: checkpoint.position, chainHash: checkpoint.chainHash, createdAtMs: checkpoint.createdAtMs))
    }
}
