public import IntegraTransparency
package import Logging

/// Builds the tree of a ledger written before it had one (schema version 8), a run of entries
/// at a time, each run in its own transaction, so an interrupted upgrade resumes after the
/// last run it committed. Every entry is checked (its chain link and its seal) before it becomes
/// a leaf: nothing unverified is signed.
public enum TreeBackfill {
    /// Entries per run (and transaction).
    public static let entriesPerRun = 20_000

    /// Appends `entries` (the next ones after the frontier, in position order), each checked
    /// against the chain hash before it and its MAC. Returns the grown tree and the last chain
    /// hash.
    public static func append(
        _ entries: [SealedEntry], to frontier: MerkleFrontier, previousChainHash: [UInt8], seal: LedgerSeal
    ) throws(LedgerError) -> (appended: MerkleAppendResult, chainHash: [UInt8]) {
        var previous = previousChainHash
        var leafHashes: [[UInt8]] = []
        leafHashes.reserveCapacity(entries.count)
        for (offset, sealed) in entries.enumerated() {
            let entry = sealed.entry
            guard entry.position >= 1, UInt64(entry.position) == frontier.treeSize + UInt64(offset) + 1 else {
                throw .integrityAlarm(IntegrityViolation(kind: .entriesMissing, message: "no entry at position \(frontier.treeSize + UInt64(offset) + 1)"))
            }
            let chainHash = LedgerSeal.chainHash(previous: previous, entry: entry)
            guard sealed.chainHash == chainHash, seal.isValid(sealed.mac, expected: seal.entryMAC(position: entry.position, chainHash: chainHash)) else {
                throw .integrityAlarm(IntegrityViolation(kind: .entryChanged, message: "entry \(entry.position) does not match its seal or the chain"))
            }
            leafHashes.append(LedgerTree.leafHash(of: entry))
            previous = chainHash
        }
        do {
            return (try frontier.appending(leafHashes: leafHashes), previous)
        } catch {
            throw .storeUnavailable("the ledger's tree cannot grow: \(error)")
        }
    }
}

extension TreeBackfill {
    /// The stored rows one run reads and writes, inside one transaction that holds the
    /// ledger's write lock.
    public struct Rows {
        /// The ledger's head position.
        public var headPosition: () throws -> Int64
        /// Leaves stored so far (one more than the largest level-0 index).
        public var leafCount: () throws -> UInt64
        public var latestHead: () throws -> SignedTreeHead?
        public var nodes: ([MerkleNodeID]) throws -> [MerkleNodeID: [UInt8]]
        /// At most `limit` entries after `position`, with their seals, in order.
        public var entries: (_ after: Int64, _ limit: Int) throws -> [SealedEntry]
        /// The chain hash of the entry at a position (the genesis hash at 0).
        public var chainHash: (Int64) throws -> [UInt8]?
        public var writeNodes: ([MerkleNode]) throws -> Void
        public var writeHead: (SignedTreeHead) throws -> Void

        public init(
            headPosition: @escaping () throws -> Int64, leafCount: @escaping () throws -> UInt64,
            latestHead: @escaping () throws -> SignedTreeHead?, nodes: @escaping ([MerkleNodeID]) throws -> [MerkleNodeID: [UInt8]],
            entries: @escaping (Int64, Int) throws -> [SealedEntry], chainHash: @escaping (Int64) throws -> [UInt8]?,
            writeNodes: @escaping ([MerkleNode]) throws -> Void, writeHead: @escaping (SignedTreeHead) throws -> Void
        ) {
            self.headPosition = headPosition
            self.leafCount = leafCount
            self.latestHead = latestHead
            self.nodes = nodes
            self.entries = entries
            self.chainHash = chainHash
            self.writeNodes = writeNodes
            self.writeHead = writeHead
        }
    }

    /// What one run did: the leaves it appended, the tree size after it, the ledger's size and
    /// whether the tree is complete.
    public typealias Run = (appended: Int, treeSize: UInt64, entries: Int64, done: Bool)

    /// What a store's backfill reports after each run, for its log.
    public enum Outcome: Sendable {
        /// The run committed.
        case built(Run)
        /// An entry failed its check: the tree stops short of it, nothing more is built or
        /// signed, and `verify` names the entry.
        case stopped(IntegrityViolation)

        /// Whether the backfill is over (the tree is complete, or it stopped).
        public var isDone: Bool {
            switch self {
            case .built(let run): run.done
            case .stopped: true
            }
        }

        /// Whether the operator is told: a run that appended leaves, or a stop.
        var isNews: Bool {
            switch self {
            case .built(let run): run.appended > 0
            case .stopped: true
            }
        }
    }

    /// One run: appends the next entries without a leaf and, once every entry has one, signs
    /// the head (unless it is signed already). Returns the tree size, the ledger's size, and
    /// whether the tree is complete.
    public static func run(_ rows: Rows, signer: TreeHeadSigner, seal: LedgerSeal, nowMs: Int64) throws -> Run {
        let treeSize = try rows.leafCount()
        let headPosition = try rows.headPosition()
        guard let frontier = try? MerkleFrontier(treeSize: treeSize, nodes: try rows.nodes(MerkleFrontier.nodeIDs(treeSize: treeSize))) else {
            throw LedgerError.integrityAlarm(IntegrityViolation(kind: .treeMismatch, message: "the partly built tree at \(treeSize) entries lacks a node of its right edge"))
        }
        if treeSize >= UInt64(max(0, headPosition)) {
            if try rows.latestHead()?.treeSize != treeSize, treeSize > 0 {
                try rows.writeHead(try TreeHeadSigner.sign(frontier, with: signer, nowMs: nowMs))
            }
            return (0, treeSize, headPosition, true)
        }
        let entries = try rows.entries(Int64(treeSize), Self.entriesPerRun)
        let previous = try rows.chainHash(Int64(treeSize)) ?? []
        let (appended, _) = try Self.append(entries, to: frontier, previousChainHash: previous, seal: seal)
        try rows.writeNodes(appended.nodes)
        let done = appended.frontier.treeSize >= UInt64(headPosition)
        if done { try rows.writeHead(try TreeHeadSigner.sign(appended.frontier, with: signer, nowMs: nowMs)) }
        return (entries.count, appended.frontier.treeSize, headPosition, done)
    }
}

extension Logger {
    /// Tells the operator what one run of a store's tree backfill did: how far it got, or why
    /// the tree stops and what to run. A run that appended nothing (the tree was complete
    /// already) is not news.
    package func log(_ outcome: TreeBackfill.Outcome) {
        guard outcome.isNews else { return }
        switch outcome {
        case .built(let run):
            self.notice("building the ledger's Merkle tree", metadata: ["entries": "\(run.treeSize)/\(run.entries)"])
        case .stopped(let violation):
            self.critical(
                "the ledger's Merkle tree stops short of the ledger: \(violation.message); no money moves until an operator has run `integra-server verify`")
        }
    }
}
