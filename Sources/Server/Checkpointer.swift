public import Crypto
import Foundation
public import IntegraLedger
import IntegraProtocol

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
        let payload = LedgerSeal.checkpointPayload(position: head.position, chainHash: head.chainHash, createdAtMs: nowMs)
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

    /// Whether a checkpoint carries a valid signature by `identity`.
    public static func isAuthentic(_ checkpoint: LedgerCheckpoint, identity: Curve25519.Signing.PublicKey) -> Bool {
        identity.isValidSignature(
            checkpoint.signature,
            for: LedgerSeal.checkpointPayload(position: checkpoint.position, chainHash: checkpoint.chainHash, createdAtMs: checkpoint.createdAtMs))
    }
}
