import Crypto
package import IntegraLedger

/// RFC 9162 section 2.1.1's Merkle tree hash, written from its recursive definition and nothing
/// else, to check the stores' trees against.
package enum ReferenceMerkleTree {
    package static func rootHash(_ leaves: ArraySlice<[UInt8]>) -> [UInt8] {
        switch leaves.count {
        case 0:
            return Array(SHA256.hash(data: [UInt8]()))
        case 1:
            return Array(SHA256.hash(data: [0x00] + leaves.first!))
        default:
            var split = 1
            while split * 2 < leaves.count { split *= 2 }
            let left = Self.rootHash(leaves.prefix(split))
            let right = Self.rootHash(leaves.dropFirst(split))
            return Array(SHA256.hash(data: [0x01] + left + right))
        }
    }

    /// The root over a store's entries, leaf i being the canonical encoding of entry i + 1.
    package static func rootHash(of store: any LedgerStore) async throws -> (treeSize: UInt64, rootHash: [UInt8]) {
        let entries = try await store.sealedEntries(afterPosition: 0, limit: 1_000_000).map { LedgerSeal.encoding(of: $0.entry) }
        return (UInt64(entries.count), Self.rootHash(entries[...]))
    }
}
