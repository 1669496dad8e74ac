import IntegraLedger
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        var lowerBound: UInt64
        var upperBound: UInt64
        /// Where the level's first node sits in `hashes` and `states`.
        var offset: Int
    }

    private static let hashByteCount = LedgerSeal.hashByteCount
    private static let missing: UInt8 = 0
    private static let present: UInt8 = 1
    private static let malformed: UInt8 = 2
    /// A tree of up to 2^64 - 1 leaves has 64 levels.
    private static let maximumLevels = 64

    // Used by one thread at a time (see above): the hot fields skip the runtime's exclusivity
    // bookkeeping, and the buffers are raw so that a comparison is one memcmp.
    /// Whether the reader filled the nodes of the current page.
    @exclusivity(unchecked) public private(set) var isRead = false
    private let levels: UnsafeMutablePointer<Level>
    @exclusivity(unchecked) private var levelCount = 0
    /// 32 bytes per node slot.
    @exclusivity(unchecked) private var hashes: UnsafeMutablePointer<UInt8>
    /// One state per node slot.
    @exclusivity(unchecked) private var states: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private var slotCapacity = 0

    init() {
        self.levels = .allocate(capacity: Self.maximumLevels)
        self.hashes = .allocate(capacity: 0)
        self.states = .allocate(capacity: 0)
    }

    deinit {
        self.levels.deallocate()
        self.hashes.deallocate()
        self.states.deallocate()
    }

    /// Forgets the previous page's nodes.
    func removeAll() {
        self.isRead = false
        self.levelCount = 0
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
        var ranges: [(level: UInt8, indices: Range<UInt64>)] = []
        while self.levelCount < Self.maximumLevels, (end >> self.levelCount) > (first >> self.levelCount) {
            let level = Level(lowerBound: first >> self.levelCount, upperBound: end >> self.levelCount, offset: offset)
            self.levels[self.levelCount] = level
            ranges.append((UInt8(self.levelCount), level.lowerBound..<level.upperBound))
            offset += Int(level.upperBound - level.lowerBound)
            self.levelCount += 1
        }
        if self.slotCapacity < offset {
            self.hashes.deallocate()
            self.states.deallocate()
            self.hashes = .allocate(capacity: offset * Self.hashByteCount)
            self.states = .allocate(capacity: offset)
            self.slotCapacity = offset
        }
        self.states.update(repeating: Self.missing, count: offset)
        return ranges
    }

    /// Records a stored node; a node outside the page's ranges is ignored.
    public func record(level: UInt8, index: UInt64, hash: UnsafeRawBufferPointer?) {
        guard let slot = self.slot(level: level, index: index) else { return }
        guard let hash, hash.count == Self.hashByteCount, let bytes = hash.baseAddress else {
            self.states[slot] = Self.malformed
            return
        }
        self.states[slot] = Self.present
        UnsafeMutableRawPointer(self.hashes + slot * Self.hashByteCount).copyMemory(from: bytes, byteCount: Self.hashByteCount)
    }

    /// Compares the stored node (level, index) with `hash`, the node folded from the entries.
    func compare(level: UInt8, index: UInt64, with hash: UnsafeRawBufferPointer) -> Comparison {
        guard self.isRead, let slot = self.slot(level: level, index: index) else { return .notRead }
        switch self.states[slot] {
        case Self.missing: return .missing
        case Self.malformed: return .malformed
        default:
            precondition(hash.count == Self.hashByteCount)
            return memcmp(self.hashes + slot * Self.hashByteCount, hash.baseAddress!, Self.hashByteCount) == 0 ? .equal : .different
        }
    }

    private func slot(level: UInt8, index: UInt64) -> Int? {
        guard Int(level) < self.levelCount else { return nil }
        let range = self.levels[Int(level)]
        guard index >= range.lowerBound, index < range.upperBound else { return nil }
        return range.offset + Int(index - range.lowerBound)
    }
}
