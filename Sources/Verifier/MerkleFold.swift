import IntegraLedger

/// The right edge of the ledger's RFC 9162 tree while verify streams past its leaves: one
/// 32-byte hash per maximal perfect subtree, largest first, in one flat buffer, grown like a
/// binary counter (appending a leaf carries through each trailing one bit of the old size).
/// Nothing is allocated per leaf; node hashes go through `EntrySealHasher.sha256` (BoringSSL on
/// Linux). Tests check it against `ReferenceMerkleTree`.
package struct MerkleFold {
    /// The leaves appended.
    package private(set) var treeSize: UInt64 = 0
    /// The frontier hashes, 32 bytes each, largest subtree first, in the first slots of a buffer
    /// that holds the most a tree can have (64): one per bit set in `treeSize`.
    private var hashes: [UInt8]

    private static let hashByteCount = LedgerSeal.hashByteCount

    package init() {
        // A tree of up to 2^64 - 1 leaves has at most 64 frontier hashes.
        self.hashes = [UInt8](repeating: 0, count: 64 * Self.hashByteCount)
    }

    /// Appends one leaf by its leaf hash, SHA-256(0x00 ‖ leaf), 32 bytes.
    package mutating func append(leafHash: UnsafeRawBufferPointer) {
        self.append(leafHash: leafHash) { _, _, _ in }
    }

    /// Appends one leaf by its leaf hash and hands `completed` every node the leaf completes
    /// (level, index, hash), the leaf itself (level 0) first, each valid only during the call.
    package mutating func append(leafHash: UnsafeRawBufferPointer, completed: (UInt8, UInt64, UnsafeRawBufferPointer) -> Void) {
        precondition(leafHash.count == Self.hashByteCount)
        let size = self.treeSize
        let start = size.nonzeroBitCount * Self.hashByteCount
        completed(0, size, leafHash)
        self.hashes.withUnsafeMutableBytes { hashes in
            var end = start
            UnsafeMutableRawBufferPointer(rebasing: hashes[end..<end + Self.hashByteCount]).copyMemory(from: leafHash)
            end += Self.hashByteCount
            guard size & 1 == 1 else { return }
            withUnsafeTemporaryAllocation(byteCount: 1 + 2 * Self.hashByteCount, alignment: 8) { input in
                input[0] = 0x01
                var carry = size
                var level: UInt8 = 0
                while carry & 1 == 1 {
                    // The last two hashes become their parent, SHA-256(0x01 ‖ left ‖ right).
                    let left = end - 2 * Self.hashByteCount
                    let parent = UnsafeMutableRawBufferPointer(rebasing: hashes[left..<left + Self.hashByteCount])
                    UnsafeMutableRawBufferPointer(rebasing: input[1...]).copyMemory(from: UnsafeRawBufferPointer(rebasing: hashes[left..<end]))
                    EntrySealHasher.sha256(UnsafeRawBufferPointer(input), into: parent)
                    end -= Self.hashByteCount
                    carry >>= 1
                    level += 1
                    completed(level, carry, UnsafeRawBufferPointer(parent))
                }
            }
        }
        self.treeSize += 1
    }

    /// Appends one leaf by its contents (the entry's canonical encoding); for tests.
    package mutating func append(leaf: [UInt8]) {
        var leafHash = [UInt8](repeating: 0, count: Self.hashByteCount)
        let input = [0x00] + leaf
        input.withUnsafeBytes { input in
            leafHash.withUnsafeMutableBytes { EntrySealHasher.sha256(input, into: $0) }
        }
        leafHash.withUnsafeBytes { self.append(leafHash: $0) }
    }

    /// The root hash of the tree of the leaves appended (RFC 9162 §2.1.1): the frontier folded
    /// from the right; SHA-256 of nothing for the empty tree.
    package var rootHash: [UInt8] {
        var root = [UInt8](repeating: 0, count: Self.hashByteCount)
        let used = self.treeSize.nonzeroBitCount * Self.hashByteCount
        root.withUnsafeMutableBytes { root in
            self.hashes.withUnsafeBytes { buffer in
                let hashes = UnsafeRawBufferPointer(rebasing: buffer[..<used])
                guard hashes.count >= Self.hashByteCount else {
                    EntrySealHasher.sha256(UnsafeRawBufferPointer(start: nil, count: 0), into: root)
                    return
                }
                root.copyMemory(from: UnsafeRawBufferPointer(rebasing: hashes[(hashes.count - Self.hashByteCount)...]))
                withUnsafeTemporaryAllocation(byteCount: 1 + 2 * Self.hashByteCount, alignment: 8) { input in
                    input[0] = 0x01
                    var left = hashes.count - 2 * Self.hashByteCount
                    while left >= 0 {
                        UnsafeMutableRawBufferPointer(rebasing: input[1...(Self.hashByteCount)]).copyMemory(from: UnsafeRawBufferPointer(rebasing: hashes[left..<left + Self.hashByteCount]))
                        UnsafeMutableRawBufferPointer(rebasing: input[(1 + Self.hashByteCount)...]).copyMemory(from: UnsafeRawBufferPointer(root))
                        EntrySealHasher.sha256(UnsafeRawBufferPointer(input), into: root)
                        left -= Self.hashByteCount
                    }
                }
            }
        }
        return root
    }
}
