import Foundation
import IntegraFiles
public import IntegraProtocol

/// Where the client keeps transfer receipts: `receipts/SENDER/TRANSFER-ID.json` next to the
/// configuration file, both names encoded by `FileNameEncoding`, directories 0700 and files 0600,
/// never written through a symbolic link nor outside `receipts/`.
///
/// Earlier versions named the directory and the file after the text with every character but
/// letters, digits, `.`, `-` and `_` replaced by `_` (a name such as `..` escaped the directory,
/// and different names could share one). Those receipts are still found for reading.
public struct ReceiptStore: Sendable {
    /// The `receipts` directory.
    public let directory: String

    /// The store next to the configuration file at `configurationPath`.
    public init(configurationPath: String) {
        self.directory = (ConfigurationDirectory.of(configurationPath) as NSString).appendingPathComponent("receipts")
    }

    /// One file found in the store; `receipt` is nil when it could not be read.
    public struct StoredReceipt: Sendable {
        public let path: String
        public let receipt: ReceiptFile?
    }

    /// The directory that holds `sender`'s receipts.
    public func directory(sender: String) -> String {
        (self.directory as NSString).appendingPathComponent(FileNameEncoding.encode(sender))
    }

    /// Writes the receipt (replacing an earlier copy of the same transfer atomically); returns
    /// its path.
    public func save(_ receipt: ReceiptFile) throws(ConfigurationError) -> String {
        let senderDirectory = try PrivateDirectory.ensureChild(FileNameEncoding.encode(receipt.sender), of: self.directory)
        let path = try PrivateDirectory.childPath(FileNameEncoding.encode(receipt.transferID) + ".json", of: senderDirectory)
        do {
            try SecretFile.write(receipt.encoded(), to: path)
        } catch {
            throw ConfigurationError("cannot save the receipt \(path): \(error)")
        }
        return path
    }

    /// Every receipt of the customer with this canonical name, from the current layout and from
    /// the earlier one: one entry per transfer id, the current layout first. Unreadable files are
    /// listed with a nil receipt; readable ones of another sender (the earlier layout could mix
    /// customers in one directory) are left out.
    public func receipts(sender: String) -> [StoredReceipt] {
        var directories = [self.directory(sender: sender)]
        let legacyName = Self.legacyName(sender)
        if legacyName != FileNameEncoding.encode(sender), let legacyPath = try? PrivateDirectory.childPath(legacyName, of: self.directory) {
            directories.append(legacyPath)
        }
        var found: [StoredReceipt] = []
        var transferIDs: Set<String> = []
        for directory in directories where PrivateDirectory.isDirectory(directory) {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
            for name in names {
                let path = (directory as NSString).appendingPathComponent(name)
                guard PrivateDirectory.isRegularFile(path) else { continue }
                guard let receipt = try? ReceiptFile.load(from: path) else {
                    found.append(StoredReceipt(path: path, receipt: nil))
                    continue
                }
                guard receipt.sender == sender, transferIDs.insert(receipt.transferID).inserted else { continue }
                found.append(StoredReceipt(path: path, receipt: receipt))
            }
        }
        return found
    }

    /// The name earlier versions gave a receipt directory or file: every character but letters,
    /// digits, `.`, `-` and `_` replaced by `_`.
    static func legacyName(_ text: String) -> String {
        String(text.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" ? $0 : "_" })
    }
}
