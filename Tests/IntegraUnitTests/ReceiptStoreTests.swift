import Crypto
import Foundation
@testable import IntegraClient
import IntegraFiles
import IntegraProtocol
import IntegraTestSupport
import Testing

/// File names made from customer names and transfer ids: injective, one safe path component,
/// never `.`, `..` or empty, whatever the text.
@Suite struct FileNameEncodingTests {
    static let trickyTexts: [String] = [
        "", ".", "..", "...", ".hidden", "a.", "a..b", "a/b", "a%2Fb", "a%2fb", "%", "%%", "%25", "%2E", "%2E.", "~", "a~b",
        "/", "//", "a\\b", "a\u{0}b", "\u{0}", "\n", " ", "a b", "a_b", "a-b", "A", "a", "Alice", "alice", "ALICE", "é", "e\u{301}",
        "É", "zoë", "测试", "😀", "\u{202E}gnp", "\u{FEFF}", "con", "nul", "CON", ".json", "x.json", "receipts", "devices",
        "a:b", "rent-june", "rent-June", "smoke-1", "123e4567-e89b-12d3-a456-426614174000",
        String(repeating: "a", count: 160), String(repeating: "a", count: 161), String(repeating: "a", count: 5000),
        String(repeating: "é", count: 200), String(repeating: "é", count: 201), String(repeating: "/", count: 300),
        String(repeating: ".", count: 300), String(repeating: "a", count: 95) + "/" + String(repeating: "a", count: 100),
        String(repeating: "a", count: 94) + "/" + String(repeating: "a", count: 100),
        String(repeating: "a", count: 96) + "/" + String(repeating: "a", count: 100),
    ]

    @Test func differentTextsNeverShareAName() {
        var owners: [String: String] = [:]
        for text in Self.trickyTexts {
            let name = FileNameEncoding.encode(text)
            #expect(owners[name] == nil, "\(text.debugDescription) and \(owners[name]?.debugDescription ?? "") share \(name)")
            owners[name] = text
        }
    }

    @Test func namesDifferEvenWhereCaseIsIgnored() {
        // Texts are compared as bytes: "é" precomposed and decomposed are two texts here.
        let lowered = Set(Self.trickyTexts.map { FileNameEncoding.encode($0).lowercased() })
        #expect(lowered.count == Set(Self.trickyTexts.map { Array($0.utf8) }).count)
    }

    @Test func randomTextsOverADangerousAlphabetNeverShareAName() {
        let alphabet: [String] = [".", "/", "%", "2", "F", "f", "E", "e", "a", "A", "~", "é", "\u{0}", "_", "-"]
        var generator = SystemRandomNumberGenerator()
        var owners: [String: String] = [:]
        for _ in 0..<20_000 {
            let text = (0..<Int.random(in: 0...8, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            let name = FileNameEncoding.encode(text)
            if let owner = owners[name] { #expect(owner == text, "\(owner.debugDescription) and \(text.debugDescription) share \(name)") }
            owners[name] = text
        }
    }

    @Test(arguments: Self.trickyTexts)
    func everyNameIsOneSafeComponent(text: String) {
        let name = FileNameEncoding.encode(text)
        #expect(!name.isEmpty && name != "." && name != "..")
        #expect(!name.hasPrefix("."))
        #expect(name.utf8.count <= FileNameEncoding.maximumCharacters + 1)
        #expect(name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-%~".unicodeScalars.contains($0)) })
    }

    @Test func plainNamesStayReadable() {
        #expect(FileNameEncoding.encode("alice") == "alice")
        #expect(FileNameEncoding.encode("rent-june") == "rent-june")
        #expect(FileNameEncoding.encode("a.b_c-1") == "a.b_c-1")
        #expect(FileNameEncoding.encode("..") == "%2E.")
        #expect(FileNameEncoding.encode("a/b") == "a%2Fb")
        #expect(FileNameEncoding.encode("a%2fb") == "a%252fb")
        #expect(FileNameEncoding.encode("a%2Fb") == "a%252%46b")
        #expect(FileNameEncoding.encode("Zoë") == "%5Ao%C3%AB")
        #expect(FileNameEncoding.encode("") == "%")
    }
}

/// Receipts on disk: encoded names, private modes, never outside `receipts/`, never through a
/// symbolic link, and receipts of earlier versions still found and still valid.
@Suite final class ReceiptStoreTests {
    let directory = TemporaryDirectory.make()
    let identity = Curve25519.Signing.PrivateKey()

    deinit { TemporaryDirectory.remove(self.directory) }

    var configurationPath: String { self.directory.appendingPathComponent("client.json").path }
    var store: ReceiptStore { ReceiptStore(configurationPath: self.configurationPath) }

    func receipt(sender: String, transferID: String, position: UInt64 = 7) throws -> ReceiptFile {
        let confirmation = TransferConfirmation(
            transferID: transferID, position: position, sender: sender, recipient: "bob", amount: "1.00", balanceAfter: "9.00",
            createdAtMs: 1_700_000_000_000, isRetry: false, chainHash: Array(repeating: 5, count: 32), signature: [])
        return ReceiptFile(try Receipt.sign(confirmation, with: self.identity))
    }

    static func mode(_ path: String) -> mode_t {
        var status = stat()
        #expect(lstat(path, &status) == 0)
        return status.st_mode & 0o7777
    }

    @Test func receiptsOfTrickyNamesStayInsideTheirDirectory() throws {
        let senders = ["..", ".", "a/b", "a%2Fb", "%", "zoë", "../../etc", String(repeating: "é", count: 300)]
        let ids = ["..", ".", "a/b", "a%2Fb", "%", "测试", "../../x", String(repeating: "z", count: 400)]
        var paths: Set<String> = []
        for sender in senders {
            for id in ids {
                let path = try self.store.save(self.receipt(sender: sender, transferID: id))
                #expect(paths.insert(path).inserted, "two receipts share \(path)")
                let parent = (path as NSString).deletingLastPathComponent
                #expect(parent == self.store.directory(sender: sender))
                #expect((parent as NSString).deletingLastPathComponent == self.store.directory)
                #expect(URL(fileURLWithPath: path).resolvingSymlinksInPath().path.hasPrefix(URL(fileURLWithPath: self.store.directory).resolvingSymlinksInPath().path + "/"))
                #expect(try ReceiptFile.load(from: path).transferID == id)
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: self.directory.path).sorted() == ["receipts"])
    }

    @Test func receiptsAre0600InDirectories0700() throws {
        let path = try self.store.save(self.receipt(sender: "alice", transferID: "t-1"))
        #expect(Self.mode(path) == 0o600)
        #expect(Self.mode(self.store.directory(sender: "alice")) == 0o700)
        #expect(Self.mode(self.store.directory) == 0o700)
    }

    @Test func directoriesOfEarlierVersionsLoseTheirPermissionsForOthers() throws {
        try FileManager.default.createDirectory(atPath: self.store.directory(sender: "alice"), withIntermediateDirectories: true)
        chmod(self.store.directory, 0o755)
        chmod(self.store.directory(sender: "alice"), 0o755)
        _ = try self.store.save(self.receipt(sender: "alice", transferID: "t-1"))
        #expect(Self.mode(self.store.directory) == 0o700)
        #expect(Self.mode(self.store.directory(sender: "alice")) == 0o700)
    }

    @Test func aSymbolicLinkInPlaceOfTheSenderDirectoryIsRefused() throws {
        try withTemporaryDirectory { elsewhere in
            try FileManager.default.createDirectory(atPath: self.store.directory, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: self.store.directory(sender: "alice"), withDestinationPath: elsewhere.path)
            #expect(throws: ConfigurationError.self) { try self.store.save(self.receipt(sender: "alice", transferID: "t-1")) }
            #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path).isEmpty)
        }
    }

    @Test func aSymbolicLinkInPlaceOfTheReceiptIsReplacedNotFollowed() throws {
        let target = self.directory.appendingPathComponent("target.txt").path
        try Data("untouched".utf8).write(to: URL(fileURLWithPath: target))
        let path = try self.store.save(self.receipt(sender: "alice", transferID: "t-1"))
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
        #expect(try self.store.save(self.receipt(sender: "alice", transferID: "t-1")) == path)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "untouched")
        #expect(Self.mode(path) == 0o600)
        #expect(try ReceiptFile.load(from: path).transferID == "t-1")
    }

    @Test func savingTheSameTransferAgainReplacesItsReceipt() throws {
        let first = try self.store.save(self.receipt(sender: "alice", transferID: "t-1"))
        #expect(try self.store.save(self.receipt(sender: "alice", transferID: "t-1")) == first)
        #expect(self.store.receipts(sender: "alice").map(\.path) == [first])
    }

    /// Writes a receipt where and how earlier versions did: world-readable, names with `_`.
    func saveInTheEarlierLayout(_ receipt: ReceiptFile) throws -> String {
        let directory = (self.store.directory as NSString).appendingPathComponent(ReceiptStore.legacyName(receipt.sender))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent(ReceiptStore.legacyName(receipt.transferID) + ".json")
        try receipt.encoded().write(to: URL(fileURLWithPath: path), options: .atomic)
        chmod(path, 0o644)
        return path
    }

    @Test func receiptsOfEarlierVersionsAreStillFoundAndStillVerify() throws {
        let old = try self.saveInTheEarlierLayout(self.receipt(sender: "zoë q", transferID: "old:1", position: 3))
        let new = try self.store.save(self.receipt(sender: "zoë q", transferID: "new:1", position: 9))
        #expect(old.contains("/receipts/zoë_q/old_1.json"))
        let found = self.store.receipts(sender: "zoë q")
        #expect(found.map(\.path) == [new, old])
        for stored in found {
            let confirmation = try #require(stored.receipt?.confirmation)
            #expect(Receipt.isValid(confirmation, identity: self.identity.publicKey))
        }
        #expect(try Receipt.isValid(#require(ReceiptFile.load(from: old).confirmation), identity: self.identity.publicKey))
    }

    @Test func aTransferInBothLayoutsIsListedOnceFromTheCurrentOne() throws {
        _ = try self.saveInTheEarlierLayout(self.receipt(sender: "zoë q", transferID: "t-1"))
        let new = try self.store.save(self.receipt(sender: "zoë q", transferID: "t-1"))
        #expect(self.store.receipts(sender: "zoë q").map(\.path) == [new])
    }

    @Test func theEarlierLayoutNeverMixesCustomersWhoShareADirectoryName() throws {
        // "ann b" was kept in "ann_b" before, which is now the directory of "ann_b".
        let annB = try self.saveInTheEarlierLayout(self.receipt(sender: "ann b", transferID: "t-1"))
        let annUnderscoreB = try self.store.save(self.receipt(sender: "ann_b", transferID: "t-2"))
        #expect(self.store.receipts(sender: "ann b").map(\.path) == [annB])
        #expect(self.store.receipts(sender: "ann_b").map(\.path) == [annUnderscoreB])
    }

    @Test func theEarlierLayoutIsNeverReadOutsideTheReceiptsDirectory() throws {
        // Earlier versions wrote the receipts of a customer named ".." next to client.json.
        try self.receipt(sender: "..", transferID: "t-1").encoded().write(to: self.directory.appendingPathComponent("t-1.json"))
        let new = try self.store.save(self.receipt(sender: "..", transferID: "t-2"))
        #expect(self.store.receipts(sender: "..").map(\.path) == [new])
    }

    @Test func unreadableReceiptsAreListedAndLinksAreSkipped() throws {
        let path = try self.store.save(self.receipt(sender: "alice", transferID: "t-1"))
        let directory = self.store.directory(sender: "alice")
        try Data("not json".utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent("broken.json"))
        try FileManager.default.createSymbolicLink(atPath: (directory as NSString).appendingPathComponent("link.json"), withDestinationPath: path)
        let found = self.store.receipts(sender: "alice")
        #expect(found.map(\.path) == [(directory as NSString).appendingPathComponent("broken.json"), path])
        #expect(found.map { $0.receipt == nil } == [true, false])
    }
}
