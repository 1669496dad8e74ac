public import Foundation
public import IntegraProtocol

/// A transfer receipt as the CLI keeps it on disk, checkable offline with `integra
/// verify-receipt` against the server identity pinned in `client.json`. Version 2: the entry, the
/// tree head the server signed for its group and the inclusion path to it. Version 1 (written
/// before the transparency log): the server's signature over the confirmation; still checked.
/// Where the files live is `ReceiptStore`'s business.
public struct ReceiptFile: Codable, Hashable, Sendable {
    public var version: Int
    public var transferID: String
    public var position: UInt64
    public var sender: String
    public var recipient: String
    public var amount: String
    public var balanceAfter: String
    public var createdAtMs: Int64
    /// Hex of the entry's chain hash.
    public var chainHash: String
    /// Version 1: hex of the server's Ed25519 signature.
    public var signature: String?
    /// Version 2: hex of the entry's canonical encoding (the log's leaf).
    public var entry: String?
    /// Version 2: the signed tree head, a C2SP checkpoint note (text).
    public var treeHead: String?
    /// Version 2: the inclusion path, hex hashes from the leaf up.
    public var inclusionPath: [String]?

    public init(_ confirmation: TransferConfirmation) {
        self.transferID = confirmation.transferID
        self.position = confirmation.position
        self.sender = confirmation.sender
        self.recipient = confirmation.recipient
        self.amount = confirmation.amount
        self.balanceAfter = confirmation.balanceAfter
        self.createdAtMs = confirmation.createdAtMs
        self.chainHash = confirmation.chainHash.hexString
        if confirmation.treeHead.isEmpty {
            self.version = 1
            self.signature = confirmation.signature.hexString
        } else {
            self.version = 2
            self.entry = confirmation.entry.hexString
            self.treeHead = String(decoding: confirmation.treeHead, as: UTF8.self)
            self.inclusionPath = confirmation.inclusionPath.map(\.hexString)
        }
    }

    /// The confirmation the file holds; nil if a field is malformed or the version unknown.
    public var confirmation: TransferConfirmation? {
        guard let chainHash = [UInt8](hexString: self.chainHash) else { return nil }
        var confirmation = TransferConfirmation(
            transferID: self.transferID, position: self.position, sender: self.sender, recipient: self.recipient,
            amount: self.amount, balanceAfter: self.balanceAfter, createdAtMs: self.createdAtMs, isRetry: false, chainHash: chainHash)
        switch self.version {
        case 1:
            guard let signature = self.signature.flatMap([UInt8].init(hexString:)) else { return nil }
            confirmation.signature = signature
        case 2:
            guard let entry = self.entry.flatMap([UInt8].init(hexString:)), let treeHead = self.treeHead, let hexPath = self.inclusionPath,
                  hexPath.count <= FieldLimits.proofHashes
            else { return nil }
            let path = hexPath.compactMap([UInt8].init(hexString:))
            guard path.count == hexPath.count else { return nil }
            confirmation.entry = entry
            confirmation.treeHead = Array(treeHead.utf8)
            confirmation.inclusionPath = path
        default:
            return nil
        }
        return confirmation
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
