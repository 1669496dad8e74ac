import Crypto
import Foundation
import IntegraClient
import IntegraFiles
import IntegraProtocol
import IntegraTestSupport
import Testing

/// Device tokens kept by the client: per deployment and customer, private, replaced atomically,
/// never written through a symbolic link; a file that is missing or unusable counts as no token.
@Suite final class DeviceTokenStoreTests {
    let directory = TemporaryDirectory.make()
    let token: [UInt8] = (0..<41).map { UInt8($0) }

    deinit { TemporaryDirectory.remove(self.directory) }

    var configurationPath: String { self.directory.appendingPathComponent("client.json").path }

    func store(identity: UInt8 = 1) -> DeviceTokenStore {
        DeviceTokenStore(configurationPath: self.configurationPath, serverIdentityKey: Array(repeating: identity, count: 32))
    }

    static func mode(_ path: String) -> mode_t {
        var status = stat()
        #expect(lstat(path, &status) == 0)
        return status.st_mode & 0o7777
    }

    @Test func aKeptTokenIsReadBackByCanonicalAndByTypedName() throws {
        #expect(self.store().token(canonicalName: "alice") == nil)
        try self.store().save(self.token, canonicalName: "alice")
        #expect(self.store().token(canonicalName: "alice") == self.token)
        #expect(self.store().token(typedName: "Alice") == self.token)
        #expect(self.store().token(typedName: "ＡＬＩＣＥ") == self.token)
        #expect(self.store().token(canonicalName: "bob") == nil)
        let newer = Array(self.token.reversed())
        try self.store().save(newer, canonicalName: "alice")
        #expect(self.store().token(canonicalName: "alice") == newer)
    }

    @Test func theFileHoldsBase64AndSitsInTheDeploymentsDirectory() throws {
        try self.store().save(self.token, canonicalName: "zoë")
        let digest = SHA256.hash(data: Array(repeating: UInt8(1), count: 32)).hexString
        let path = self.directory.appendingPathComponent("devices/\(digest)/zo%C3%AB.token").path
        #expect(self.store().path(canonicalName: "zoë") == path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == Data(self.token).base64EncodedString() + "\n")
    }

    @Test func filesAre0600InDirectories0700() throws {
        try self.store().save(self.token, canonicalName: "alice")
        #expect(Self.mode(self.store().path(canonicalName: "alice")) == 0o600)
        #expect(Self.mode(self.store().directory) == 0o700)
        #expect(Self.mode(self.directory.appendingPathComponent("devices").path) == 0o700)
    }

    @Test(arguments: ["", "\n", "not base64!", "AAAA====AAAA", String(repeating: "A", count: 2000), Data(repeating: 7, count: 257).base64EncodedString()])
    func aMalformedFileCountsAsNoToken(content: String) throws {
        try self.store().save(self.token, canonicalName: "alice")
        let path = self.store().path(canonicalName: "alice")
        try SecretFile.write(Data(content.utf8), to: path)
        #expect(self.store().token(canonicalName: "alice") == nil)
    }

    @Test func aFileOthersMayReadOrADirectoryInItsPlaceCountsAsNoToken() throws {
        try self.store().save(self.token, canonicalName: "alice")
        chmod(self.store().path(canonicalName: "alice"), 0o644)
        #expect(self.store().token(canonicalName: "alice") == nil)
        try FileManager.default.createDirectory(atPath: self.store().path(canonicalName: "bob"), withIntermediateDirectories: true)
        #expect(self.store().token(canonicalName: "bob") == nil)
    }

    @Test func aNameTheServerWouldNotAcceptHasNoToken() {
        #expect(self.store().token(typedName: "..") == nil)
        #expect(self.store().token(typedName: "a/b") == nil)
    }

    @Test func tokensOfOneDeploymentAreNeverFoundForAnother() throws {
        try self.store(identity: 1).save(self.token, canonicalName: "alice")
        #expect(self.store(identity: 2).token(canonicalName: "alice") == nil)
        #expect(self.store(identity: 1).directory != self.store(identity: 2).directory)
        try self.store(identity: 2).save([9, 9, 9], canonicalName: "alice")
        #expect(self.store(identity: 1).token(canonicalName: "alice") == self.token)
        #expect(self.store(identity: 2).token(canonicalName: "alice") == [9, 9, 9])
    }

    @Test func aSymbolicLinkAtTheTokenPathIsReplacedNotFollowed() throws {
        let target = self.directory.appendingPathComponent("target.txt").path
        try Data("untouched".utf8).write(to: URL(fileURLWithPath: target))
        try self.store().save(self.token, canonicalName: "alice")
        let path = self.store().path(canonicalName: "alice")
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
        #expect(self.store().token(canonicalName: "alice") == nil)
        try self.store().save(self.token, canonicalName: "alice")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "untouched")
        #expect(Self.mode(path) == 0o600)
        #expect(self.store().token(canonicalName: "alice") == self.token)
    }

    @Test func aSymbolicLinkInPlaceOfTheDeploymentDirectoryIsRefused() throws {
        try withTemporaryDirectory { elsewhere in
            try FileManager.default.createDirectory(at: self.directory.appendingPathComponent("devices"), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: self.store().directory, withDestinationPath: elsewhere.path)
            #expect(throws: ConfigurationError.self) { try self.store().save(self.token, canonicalName: "alice") }
            #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path).isEmpty)
        }
    }

    @Test func aTokenOfTheWrongSizeIsNotKept() {
        #expect(throws: ConfigurationError.self) { try self.store().save([], canonicalName: "alice") }
        #expect(throws: ConfigurationError.self) { try self.store().save(Array(repeating: 1, count: 257), canonicalName: "alice") }
    }
}
