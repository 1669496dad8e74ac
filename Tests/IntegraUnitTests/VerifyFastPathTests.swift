import Crypto
import Foundation
@testable import IntegraLedger
@testable import IntegraVerifier
import IntegraProtocol
import Testing

/// The bytes every receipt, inclusion proof and stored seal depend on, and the verifier's fast
/// path that recomputes them.
@Suite struct EntrySealBytesTests {
    /// Storage key 32 × 0x07; the expected values were computed with Python's hashlib, hmac and
    /// cryptography's HKDF from the definitions in docs/LEDGER-INTEGRITY.md, not with Integra.
    static let seal = LedgerSeal(storageKey: SymmetricKey(data: Array(repeating: UInt8(7), count: 32)))

    struct Vector {
        let entry: LedgerEntry
        let encoding: String
        let digest: String
        let chainHash: String
        let mac: String
    }

    static let vectors = [
        Vector(
            entry: LedgerEntry(
                position: 7, kind: .transfer, transferID: TransferID(trusted: "t-7"), fromUserID: 1, from: Username(trustedCanonical: "alice"),
                toUserID: 2, to: Username(trustedCanonical: "bob"), amount: Amount(cents: 1_050), fromBalanceAfterCents: 8_950,
                toBalanceAfterCents: 1_050, createdAtMs: 1_800_000_000_000),
            encoding: "696e74656772612f3120656e747279000000000000000700000000000000010003742d3700000000000000010005616c69636500000000000000020003626f62000000000000041a00000000000022f6000000000000041a000001a3185c5000",
            digest: "9a7afe675b288f4c67a8980c5ae065442841645138c499977585bac7604a3390",
            chainHash: "1d6677978881c0e01bb546c43a43be71ba8ba130eb2b97eb15303efbb4f2e199",
            mac: "1ba7f6e5e8ed892be88c1dea191db497338017b9371a86d3318e39abeb55f2c7"),
        Vector(
            entry: LedgerEntry(
                position: 8, kind: .deposit, transferID: TransferID(trusted: "deposit-\u{FC}"), fromUserID: 0, from: Username(trustedCanonical: "system"),
                toUserID: 3, to: Username(trustedCanonical: "zo\u{EB}"), amount: Amount(cents: 5), fromBalanceAfterCents: -5,
                toBalanceAfterCents: 5, createdAtMs: 1_800_000_000_001),
            encoding: "696e74656772612f3120656e74727900000000000000080000000000000002000a6465706f7369742dc3bc0000000000000000000673797374656d000000000000000300047a6fc3ab0000000000000005fffffffffffffffb0000000000000005000001a3185c5001",
            digest: "d379bdcd978aeee58dd4271b6177ca6604f919e23aef9e78c7815e0fe0727237",
            chainHash: "3b0577ac98a987f857446488ebd1af590626e6b74fe11a1543e3c83ac89f6508",
            mac: "39e7e8158e53b02f959ec63fe529e96f747c653ed12bb79c099c3728a2e0045e"),
    ]

    @Test func entryEncodingDigestChainHashAndMACMatchTheSpecification() {
        var previous = LedgerSeal.genesisHash
        for vector in Self.vectors {
            #expect(LedgerSeal.encoding(of: vector.entry).hexString == vector.encoding)
            #expect(LedgerSeal.entryDigest(vector.entry).hexString == vector.digest)
            let chainHash = LedgerSeal.chainHash(previous: previous, entry: vector.entry)
            #expect(chainHash.hexString == vector.chainHash)
            #expect(Self.seal.entryMAC(position: vector.entry.position, chainHash: chainHash).hexString == vector.mac)
            previous = chainHash
        }
    }

    /// The verifier hashes through `EntrySealHasher` (BoringSSL directly on Linux); it must give
    /// the bytes `LedgerSeal` gives through swift-crypto, for any entry.
    @Test func entrySealHasherAgreesWithLedgerSeal() {
        let hasher = Self.seal.makeEntryHasher()
        var generator = SystemRandomNumberGenerator()
        var previous = LedgerSeal.genesisHash
        for index in 0..<300 {
            let name = String(repeating: "\u{E9}x", count: Int.random(in: 0...40, using: &generator))
            let entry = LedgerEntry(
                position: Int64(index + 1), kind: index.isMultiple(of: 3) ? .deposit : .transfer,
                transferID: TransferID(trusted: String(repeating: "t", count: Int.random(in: 1...64, using: &generator))),
                fromUserID: Int64.random(in: 0...Int64.max, using: &generator), from: Username(trustedCanonical: name),
                toUserID: Int64.random(in: Int64.min...Int64.max, using: &generator), to: Username(trustedCanonical: "r\(index)"),
                amount: Amount(cents: Int64.random(in: 1...Int64.max, using: &generator)),
                fromBalanceAfterCents: Int64.random(in: Int64.min...Int64.max, using: &generator),
                toBalanceAfterCents: Int64.random(in: Int64.min...Int64.max, using: &generator),
                createdAtMs: Int64.random(in: 0...Int64.max, using: &generator))
            let digest = Self.bytes { output in LedgerSeal.encoding(of: entry).withUnsafeBytes { hasher.digest($0, into: output) } }
            #expect(digest == LedgerSeal.entryDigest(entry))
            let link = Self.bytes { output in
                previous.withUnsafeBytes { previous in digest.withUnsafeBytes { hasher.link(previous: previous, entryDigest: $0, into: output) } }
            }
            #expect(link == LedgerSeal.chainHash(previous: previous, entryDigest: digest))
            let mac = Self.bytes { output in
                link.withUnsafeBytes { link in
                    LedgerSeal.withEntryMACInput(position: entry.position, chainHash: link) { hasher.authenticationCode($0, into: output) }
                }
            }
            #expect(mac == Self.seal.entryMAC(position: entry.position, chainHash: link))
            previous = link
        }
    }

    static func bytes(_ body: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: LedgerSeal.hashByteCount)
        bytes.withUnsafeMutableBytes(body)
        return bytes
    }
}

@Suite struct SealedEntryPageTests {
    static func sealed(_ position: Int64, chainHash: [UInt8]? = Array(repeating: 1, count: 32), mac: [UInt8]? = Array(repeating: 2, count: 32), transferID: String = "t") -> SealedEntry {
        SealedEntry(
            entry: LedgerEntry(
                position: position, kind: .transfer, transferID: TransferID(trusted: transferID), fromUserID: 1, from: Username(trustedCanonical: "alice"),
                toUserID: 2, to: Username(trustedCanonical: "b\u{F6}b"), amount: Amount(cents: 10), fromBalanceAfterCents: 90,
                toBalanceAfterCents: 10, createdAtMs: position * 1_000),
            chainHash: chainHash, mac: mac)
    }

    static func same(_ one: SealedEntry, _ other: SealedEntry) -> Bool {
        one.entry == other.entry && (one.chainHash ?? []) == (other.chainHash ?? []) && one.mac == other.mac
    }

    @Test func keepsEveryFieldAndSealAsRead() throws {
        let page = SealedEntryPage(capacity: 4)
        let rows = [
            Self.sealed(1), Self.sealed(2, chainHash: nil), Self.sealed(3, chainHash: [9, 9, 9], mac: [1]),
            Self.sealed(4, chainHash: Array(repeating: 3, count: 40), mac: nil),
        ]
        for row in rows { try page.append(row) }
        #expect(page.isFull)
        #expect(page.lastPosition == 4)
        for (index, row) in rows.enumerated() {
            let read = page.sealedEntry(at: index)
            #expect(read.entry == row.entry)
            #expect(read.chainHash ?? [] == row.chainHash ?? [])
            // A MAC of the wrong length can never be valid; the page keeps only that it is not one.
            #expect(read.mac == (row.mac?.count == 32 ? row.mac : nil))
        }
        page.removeAll()
        #expect(page.count == 0 && page.lastPosition == nil && !page.isFull)
    }

    @Test func refusesRowsTheSchemaCannotHold() {
        let page = SealedEntryPage(capacity: 4)
        let long = [UInt8](repeating: 0x61, count: SealedEntryPage.maximumFieldBytes + 1)
        let name = [UInt8]("alice".utf8)
        func append(kind: Int64 = 1, amountCents: Int64 = 1, transferID: [UInt8] = name) throws(LedgerError) {
            let outcome: Result<Void, LedgerError> = transferID.withUnsafeBytes { transferID in
                name.withUnsafeBytes { name in
                    Result { () throws(LedgerError) in
                        try page.append(
                            position: 1, kind: kind, transferID: transferID, fromUserID: 1, from: name, toUserID: 2, to: name,
                            amountCents: amountCents, fromBalanceAfterCents: 0, toBalanceAfterCents: 0, createdAtMs: 0, chainHash: nil, mac: nil)
                    }
                }
            }
            try outcome.get()
        }
        #expect(throws: LedgerError.self) { try append(kind: 4) }
        #expect(throws: LedgerError.self) { try append(amountCents: 0) }
        #expect(throws: LedgerError.self) { try append(kind: 3, amountCents: 1) }
        #expect(throws: LedgerError.self) { try append(transferID: long) }
        #expect(page.count == 0)
        #expect(throws: Never.self) { try append() }
        #expect(throws: Never.self) { try append(kind: 3, amountCents: 0) }
        #expect(page.count == 2)
    }

    @Test func isFullOnceItsStringsReachTheBudget() throws {
        let page = SealedEntryPage(capacity: 100, maximumStringBytes: 64)
        var position: Int64 = 0
        while !page.isFull {
            position += 1
            try page.append(Self.sealed(position, transferID: String(repeating: "x", count: 20)))
        }
        // Each row holds 20 + 5 + 4 bytes of strings: the third row crosses 64 bytes.
        #expect(page.count == 3)
    }
}

@Suite struct UserIDMapTests {
    @Test func keepsValuesForDenseLargeAndNegativeIDs() {
        var map = UserIDMap<Int64>()
        let limit = UserIDMap<Int64>.denseLimit
        let ids: [Int64] = [0, 1, 7, 1_000, limit - 1, limit, -1, Int64.min, Int64.max]
        for (value, id) in ids.enumerated() { map[id] = Int64(value) }
        for (value, id) in ids.enumerated() { #expect(map[id] == Int64(value), "id \(id)") }
        #expect(map[2] == nil && map[5_000] == nil && map[-2] == nil && map[limit + 1] == nil)
        map[7] = nil
        #expect(map[7] == nil)
        var count = 0
        map.forEachValue { _ in count += 1 }
        #expect(count == ids.count - 1)
    }
}
