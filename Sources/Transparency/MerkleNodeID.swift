/// Names a stored node: the hash of the perfect subtree over the leaves
/// `[index · 2^level, (index + 1) · 2^level)`; level 0 holds the leaf hashes.
///
/// Only perfect subtrees are stored, so a node never changes once written and a store can key
/// its rows by `(level, index)`.
public struct MerkleNodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// How many times the leaf count doubles: the node covers 2^level leaves.
    public let level: UInt8
    /// The node's position among the nodes of its level, from the left.
    public let index: UInt64

    /// A node id, or nil if no tree of at most `UInt64.max` leaves has such a node.
    public init?(level: UInt8, index: UInt64) {
        guard level <= MerkleTree.maximumLevel, index <= UInt64.max >> level else { return nil }
        self.level = level
        self.index = index
    }

    /// For callers that derived `level` and `index` from a tree size, which keeps them in range.
    init(checkedLevel level: UInt8, index: UInt64) {
        self.level = level
        self.index = index
    }

    /// The leaf hash of leaf `index`.
    public static func leaf(_ index: UInt64) -> MerkleNodeID {
        MerkleNodeID(checkedLevel: 0, index: index)
    }

    /// The index of the first leaf the node covers.
    public var firstLeafIndex: UInt64 { self.index << self.level }

    /// How many leaves the node covers.
    public var leafCount: UInt64 { 1 << self.level }

    /// Orders by level, then index: the order a store's primary key `(level, index)` sorts in.
    public static func < (lhs: MerkleNodeID, rhs: MerkleNodeID) -> Bool {
        (lhs.level, lhs.index) < (rhs.level, rhs.index)
    }

    /// "(level, index)", for logs and test failures.
    public var description: String { "(\(self.level), \(self.index))" }
}

/// A stored node and its hash: what the appender hands a store to write.
public struct MerkleNode: Hashable, Sendable {
    /// Where the node sits in the tree.
    public let id: MerkleNodeID
    /// The subtree's hash, 32 bytes.
    public let hash: [UInt8]

    /// A node with its hash.
    public init(id: MerkleNodeID, hash: [UInt8]) {
        self.id = id
        self.hash = hash
    }
}
