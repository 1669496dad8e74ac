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
        public var latestHead: () throws -> SignedTreeHead?
        public var nodes: ([MerkleNodeID]) throws -> [MerkleNodeID: [UInt8]]
        /// At most `limit` entries after `position`, with their seals, in order.
        public var entries: (_ after: Int64, _ limit: Int) throws -> [SealedEntry]
        /// The chain hash of the entry at a position (the genesis hash at 0).
        public var chainHash: (Int64) throws -> [UInt8]?
        public var writeNodes: ([MerkleNode]) throws -> Void
        public var writeHead: (SignedTreeHead) throws -> Void

        public init(
            headPosition: @escaping () throws -> Int64,
            latestHead: @escaping () throws -> SignedTreeHead?, nodes: @escaping ([MerkleNodeID]) throws -> [MerkleNodeID: [UInt8]],
            entries: @escaping (Int64, Int) throws -> [SealedEntry], chainHash: @escaping (Int64) throws -> [UInt8]?,
            writeNodes: @escaping ([MerkleNode]) throws -> Void, writeHead: @escaping (SignedTreeHead) throws -> Void
        ) {
            self.headPosition = headPosition
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

    /// One run: appends the next entries without a leaf and signs the head of the tree it
    /// reached, so that the next run (after a restart too) builds only on a stored tree whose
    /// root the identity key signed. Returns the tree size, the ledger's size, and whether the
    /// tree is complete.
    ///
    /// Stored nodes are trusted only under a signed head: with a head stored, the stored tree
    /// must be exactly the one the latest head commits to (else the tree rows were changed or
    /// deleted: an alarm, and nothing is built or signed on them); with none (a backfill that
    /// was interrupted before it signed anything), the tree is built again from the first entry.
    public static func run(_ rows: Rows, signer: TreeHeadSigner, seal: LedgerSeal, nowMs: Int64) throws -> Run {
        let headPosition = try rows.headPosition()
        let frontier: MerkleFrontier
        if let latest = try rows.latestHead() {
            frontier = try Self.verifiedFrontier(rows, latest: latest, verifier: signer.verifier)
        } else {
            frontier = MerkleFrontier()
        }
        let treeSize = frontier.treeSize
        if treeSize >= UInt64(max(0, headPosition)) {
            return (0, treeSize, headPosition, true)
        }
        let entries = try rows.entries(Int64(treeSize), Self.entriesPerRun)
        guard !entries.isEmpty else { throw Self.noEntryAfter(treeSize, headPosition: headPosition) }
        let previous = try rows.chainHash(Int64(treeSize)) ?? []
        let (appended, _) = try Self.append(entries, to: frontier, previousChainHash: previous, seal: seal)
        try rows.writeNodes(appended.nodes)
        try rows.writeHead(try TreeHeadSigner.sign(appended.frontier, with: signer, nowMs: nowMs))
        let done = appended.frontier.treeSize >= UInt64(headPosition)
        return (entries.count, appended.frontier.treeSize, headPosition, done)
    }

    /// The ledger's head is past `treeSize`, but no entry follows it: the last entries were
    /// removed (or made to name no one).
    static func noEntryAfter(_ treeSize: UInt64, headPosition: Int64) -> LedgerError {
        .integrityAlarm(IntegrityViolation(
            kind: .entriesMissing, message: "the ledger's head is at entry \(headPosition), but no entry follows entry \(treeSize)"))
    }

    /// The stored tree's right edge at `latest`'s size, if it folds to `latest`'s root, `latest`
    /// carries the identity key's signature, and no leaf is stored right after it (entries and
    /// their leaves are committed with their head, so a next leaf means later heads were
    /// deleted). Other rows beyond the edge are not read: a node stored past the ledger is
    /// overwritten when the ledger reaches it.
    static func verifiedFrontier(_ rows: Rows, latest: SignedTreeHead, verifier: NoteVerifier) throws -> MerkleFrontier {
        let remedy = "tree rows were changed or deleted, and nothing is built or signed on them: run `integra-server verify`, then `integra-server rebuild-tree`"
        guard latest.isSigned(by: verifier) else {
            throw LedgerError.integrityAlarm(IntegrityViolation(
                kind: .treeMismatch, message: "the latest stored tree head (\(latest.treeSize) entries) does not carry the identity key's signature: \(remedy)"))
        }
        guard let frontier = try? MerkleFrontier(treeSize: latest.treeSize, nodes: try rows.nodes(MerkleFrontier.nodeIDs(treeSize: latest.treeSize))),
              frontier.rootHash == latest.rootHash else {
            throw LedgerError.integrityAlarm(IntegrityViolation(
                kind: .treeMismatch,
                message: "the stored tree's right edge at \(latest.treeSize) entries does not fold to the root of the latest signed head: \(remedy)"))
        }
        guard try rows.nodes([MerkleNodeID.leaf(latest.treeSize)]).isEmpty else {
            throw LedgerError.integrityAlarm(IntegrityViolation(
                kind: .treeMismatch, message: "the stored tree goes on past the latest signed head of \(latest.treeSize) entries: later heads were deleted; \(remedy)"))
        }
        return frontier
    }
}

extension TreeBackfill {
    /// Rewrites every stored node from the entries, a run of entries per transaction: the
    /// repair for stored nodes that `verify` found changed, missing or malformed. Each entry is
    /// checked (chain link and seal) before its leaf is written, so what is written is what the
    /// entries say. The tree rebuilt up to the latest signed head must fold to that head's root,
    /// or the rewrite stops with an alarm; past it (a head deleted, or an interrupted build), the
    /// head of the whole ledger is signed at the end.
    public struct Rewrite: Sendable {
        /// The tree rebuilt so far, from the entries alone (not from stored nodes).
        public private(set) var frontier = MerkleFrontier()
        private var chainHash = LedgerSeal.genesisHash
        /// The size of the latest stored signed head whose root the rebuilt tree matched (0: none
        /// was stored).
        public private(set) var matchedSignedSize: UInt64 = 0
        /// The size of the head the rewrite signed, for entries past the latest signed head.
        public private(set) var signedSize: UInt64?

        public init() {}

        /// Rewrites the nodes of the next run of entries; returns what the run did.
        public mutating func run(_ rows: Rows, seal: LedgerSeal, signer: TreeHeadSigner, nowMs: Int64) throws -> Run {
            let headPosition = try rows.headPosition()
            let latest = try rows.latestHead()
            if let latest, !latest.isSigned(by: signer.verifier) {
                throw LedgerError.integrityAlarm(IntegrityViolation(
                    kind: .treeMismatch, message: "the latest stored tree head (\(latest.treeSize) entries) does not carry the identity key's signature"))
            }
            let signedSize = latest?.treeSize ?? 0
            var limit = TreeBackfill.entriesPerRun
            // Stop at the signed head's size, to compare roots there.
            if signedSize > self.frontier.treeSize { limit = Int(min(UInt64(limit), signedSize - self.frontier.treeSize)) }
            let entries = try rows.entries(Int64(self.frontier.treeSize), limit)
            if entries.isEmpty, self.frontier.treeSize < UInt64(max(0, headPosition)) {
                throw TreeBackfill.noEntryAfter(self.frontier.treeSize, headPosition: headPosition)
            }
            let (appended, chainHash) = try TreeBackfill.append(entries, to: self.frontier, previousChainHash: self.chainHash, seal: seal)
            try rows.writeNodes(appended.nodes)
            self.frontier = appended.frontier
            self.chainHash = chainHash
            let size = self.frontier.treeSize
            if let latest, size == latest.treeSize {
                guard self.frontier.rootHash == latest.rootHash else {
                    throw LedgerError.integrityAlarm(IntegrityViolation(
                        kind: .treeMismatch, message: "the ledger's first \(size) entries do not fold to the root of the signed head of \(size) entries"))
                }
                self.matchedSignedSize = size
            }
            if size < signedSize, entries.count < limit {
                throw LedgerError.integrityAlarm(IntegrityViolation(
                    kind: .treeMismatch, message: "the signed head of \(signedSize) entries covers more than the ledger's \(size) entries"))
            }
            let done = entries.isEmpty || size >= UInt64(max(0, headPosition))
            if done, size > signedSize {
                try rows.writeHead(try TreeHeadSigner.sign(self.frontier, with: signer, nowMs: nowMs))
                self.signedSize = size
            }
            return (entries.count, size, headPosition, done)
        }
    }
}

/// A store whose tree nodes an operator can rewrite from the verified entries
/// (`integra-server rebuild-tree`).
public protocol TreeNodeRewriting: Sendable {
    /// Rewrites every stored tree node from the entries (see `TreeBackfill.Rewrite`), telling
    /// `progress` after each run; returns what it matched and signed. Throws `integrityAlarm`
    /// naming the first entry that fails its check, or a root that the latest signed head does
    /// not carry.
    @discardableResult
    func rewriteTreeNodes(progress: @escaping @Sendable (TreeBackfill.Run) -> Void) async throws(LedgerError) -> TreeBackfill.Rewrite
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
                "building the ledger's Merkle tree stopped: \(violation.message); no money moves until an operator has run `integra-server verify`")
        }
    }
}
