public import Foundation
public import IntegraProtocol

/// A transfer receipt as the CLI keeps it on disk: the signed confirmation, checkable offline
/// with `integra verify-receipt` against the server identity pinned in `client.json`. Where the
/// files live is `ReceiptStore`'s business.
public struct ReceiptFile: Codable, Hashable, Sendable {
    public var version = 1
    public var transferID: String
    public var position: UInt64
    public var sender: String
    public var recipient: String
    public var amount: String
    public var balanceAfter: String
    public var createdAtMs: Int64
    /// Hex of the entry's chain hash.
    public var chainHash: String
    /// Hex of the server's Ed25519 signature.
    public var signature: String

    public init(_ confirmation: TransferConfirmation) {
        self.transferID = confirmation.transferID
        self.position = confirmation.position
        self.sender = confirmation.sender
        self.recipient = confirmation.recipient
        self.amount = confirmation.amount
        self.balanceAfter = confirmation.balanceAfter
        self.createdAtMs = confirmation.createdAtMs
        self.chainHash = confirmation.chainHash.hexString
        self.signature = confirmation.signature.hexString
    }

    /// The confirmation the signature covers; nil if the hex fields are malformed.
    public var confirmation: TransferConfirmation? {
        guard let chainHash = [UInt8](hexString: self.chainHash), let signature = [UInt8](hexString: self.signature) else { return nil }
        return TransferConfirmation(
            transferID: self.transferID, position: self.position, sender: self.sender, recipient: self.recipient,
            amount: self.amount, balanceAfter: self.balanceAfter, createdAtMs: self.createdAtMs, isRetry: false,
            chainHash: chainHash, signature: signature)
    }

    /// The file's bytes: pretty-printed JSON with sorted keys and a final newline.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self) + Data("\n".utf8)
    }

    /// Reads a receipt file (any path: `integra verify-receipt` takes what the customer names).
    public static func load(from path: String) throws -> ReceiptFile {
        try JSONDecoder().decode(ReceiptFile.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
