import IntegraLedger

/// The stored tree nodes that a page's leaves complete, read with the page so that `verify`
/// compares every stored node with the hash folded from the entries.
///
/// For a page whose leaves are `[a, b)` (leaf i is the entry at position i + 1; `a` is the
/// position read after), the leaves complete at level L exactly the nodes with an index in
/// `[a >> L, b >> L)`. The reader asks `levels` for these ranges, fills what it finds with
/// `record`, and the verifier looks each node up as the fold completes it. Storage is reused
/// from page to page; used by one thread at a time, like its page.
public final class StoredTreeNodes: @unchecked Sendable {
    /// How a stored node compares with the hash folded from the entries.
    enum Comparison: Equatable {
        /// The page was read without nodes (a store that does not read them), or the node is
        /// outside the page's ranges.
        case notRead
        case equal
        /// No row for the node.
        case missing
        /// A row whose hash is not 32 bytes.
        case malformed
        case different
    }

    private struct Level {
        var indices: Range<UInt64>
        /// Where the level's first node sits in `hashes` and `states`.
        var offset: Int
    }

    private static let hashByteCount = LedgerSeal.hashByteCount
    private static let missing: UInt8 = 0
    private static let present: UInt8 = 1
    private static let malformed: UInt8 = 2

    /// Whether the reader filled the nodes of the current page.
    public private(set) var isRead = false
    private var levels: [Level] = []
    private var hashes: [UInt8] = []
    private var states: [UInt8] = []

    init() {}

    /// Forgets the previous page's nodes.
    func removeAll() {
        self.isRead = false
        self.levels.removeAll(keepingCapacity: true)
    }

    /// Starts the nodes of a page of `leafCount` leaves after position `afterPosition`; returns
    /// the index range to read at each level, level 0 first, only levels with nodes to read.
    public func begin(afterPosition: Int64, leafCount: Int) -> [(level: UInt8, indices: Range<UInt64>)] {
        precondition(afterPosition >= 0 && leafCount >= 0)
        self.removeAll()
        self.isRead = true
        let first = UInt64(afterPosition)
        let end = first + UInt64(leafCount)
        var offset = 0
        var level: UInt8 = 0
        while level < 64, (end >> level) > (first >> level) {
            let indices = (first >> level)..<(end >> level)
            self.levels.append(Level(indices: indices, offset: offset))
            offset += Int(indices.count)
            level += 1
        }
        if self.states.count < offset {
            self.states = [UInt8](repeating: Self.missing, count: offset)
            self.hashes = [UInt8](repeating: 0, count: offset * Self.hashByteCount)
        } else {
            for slot in 0..<offset { self.states[slot] = Self.missing }
        }
        return self.levels.enumerated().map { (UInt8($0.offset), $0.element.indices) }
    }

    /// Records a stored node; a node outside the page's ranges is ignored.
    public func record(level: UInt8, index: UInt64, hash: UnsafeRawBufferPointer?) {
        guard let slot = self.slot(level: level, index: index) else { return }
        guard let hash, hash.count == Self.hashByteCount else {
            self.states[slot] = Self.malformed
            return
        }
        self.states[slot] = Self.present
        self.hashes.withUnsafeMutableBytes { hashes in
            UnsafeMutableRawBufferPointer(rebasing: hashes[slot * Self.hashByteCount..<(slot + 1) * Self.hashByteCount]).copyMemory(from: hash)
        }
    }

    /// Compares the stored node (level, index) with `hash`, the node folded from the entries.
    func compare(level: UInt8, index: UInt64, with hash: UnsafeRawBufferPointer) -> Comparison {
        guard self.isRead, let slot = self.slot(level: level, index: index) else { return .notRead }
        switch self.states[slot] {
        case Self.missing: return .missing
        case Self.malformed: return .malformed
        default:
            let equal = self.hashes.withUnsafeBytes { hashes in
                UnsafeRawBufferPointer(rebasing: hashes[slot * Self.hashByteCount..<(slot + 1) * Self.hashByteCount]).elementsEqual(hash)
            }
            return equal ? .equal : .different
        }
    }

    private func slot(level: UInt8, index: UInt64) -> Int? {
        guard Int(level) < self.levels.count else { return nil }
        let range = self.levels[Int(level)]
        guard range.indices.contains(index) else { return nil }
        return range.offset + Int(index - range.indices.lowerBound)
    }
}
