public import IntegraTransparency
import Synchronization

/// What a store has checked (or written itself) and may trust again while the stored bytes are
/// unchanged: account rows by their exact balance and MAC, and the ledger's head; and, for each
/// account, the latest entry position it is known to have, which never goes down.
///
/// A row changed, restored or replaced outside Integra has other bytes and is checked again
/// (`LedgerIntegrity`); so keeping a verified row costs one comparison instead of reading and
/// hashing its latest entry on every transaction. An account row restored from before an entry
/// that was then deleted looks whole on its own; the known latest position gives it away.
/// Bounded: past `maximumAccounts` verified rows it starts over; past `maximumAccounts` known
/// positions new accounts are not remembered (their rows are checked against the ledger's
/// density instead, `AccountEvidence.missingAfterLatest`).
public final class VerifiedRowCache: Sendable {
    private struct VerifiedAccount {
        let balanceCents: Int64
        let mac: [UInt8]
    }

    private struct State {
        var accounts: [Int64: VerifiedAccount] = [:]
        var head: LedgerIntegrity.ChainPoint?
        /// Positions with the generation that published them.
        var latestPositions: [Int64: (position: Int64, generation: UInt64)] = [:]
        /// Counts the publications of positions.
        var generation: UInt64 = 0
        /// The first position a full verification found no entry at, below the ledger's end.
        var firstMissingPosition: Int64?
        /// The tree's right edge over the verified entries, and the last head signed over it.
        var tree: VerifiedTree?
    }

    private let state = Mutex(State())
    /// Accounts remembered at most.
    public let maximumAccounts: Int

    public init(maximumAccounts: Int = 100_000) {
        precondition(maximumAccounts >= 1)
        self.maximumAccounts = maximumAccounts
    }

    /// Whether exactly this row was verified before.
    public func isVerified(userID: Int64, balanceCents: Int64, mac: [UInt8]?) -> Bool {
        guard let mac else { return false }
        return self.state.withLock { state in
            guard let known = state.accounts[userID] else { return false }
            return known.balanceCents == balanceCents && known.mac == mac
        }
    }

    /// Remembers rows as verified or as written by a committed transaction.
    public func remember(accounts: some Sequence<(userID: Int64, balanceCents: Int64, mac: [UInt8])>) {
        self.state.withLock { state in
            for account in accounts {
                if state.accounts.count >= self.maximumAccounts && state.accounts[account.userID] == nil {
                    state.accounts.removeAll(keepingCapacity: true)
                }
                state.accounts[account.userID] = VerifiedAccount(balanceCents: account.balanceCents, mac: account.mac)
            }
        }
    }

    /// Known latest positions as a transaction may use them: captured *before* the transaction
    /// takes its snapshot, so that it only ever sees positions committed before that snapshot.
    /// A position published later may be missing from an older snapshot without anything being
    /// wrong; such an account is checked against the ledger's density instead.
    public struct KnownPositions: Sendable {
        fileprivate let cache: VerifiedRowCache
        fileprivate let generation: UInt64

        /// The highest entry position known for the account, if published before the capture.
        public func latestPosition(of userID: Int64) -> Int64? {
            self.cache.state.withLock { state in
                guard let known = state.latestPositions[userID], known.generation <= self.generation else { return nil }
                return known.position
            }
        }

        /// The first position a full verification found no entry at: an account whose latest
        /// entry comes before it may have been a party to the missing entry.
        public var firstMissingPosition: Int64? {
            self.cache.state.withLock { $0.firstMissingPosition }
        }

        /// Remembers a position this transaction found whole (see `VerifiedRowCache.remember`).
        public func remember(latestPositions: some Sequence<(userID: Int64, position: Int64)>) {
            self.cache.remember(latestPositions: latestPositions)
        }
    }

    /// Captures what is known now; call it before the transaction that uses it begins.
    public func knownPositions() -> KnownPositions {
        KnownPositions(cache: self, generation: self.state.withLock { $0.generation })
    }

    /// Remembers entry positions accounts are known to have (committed here, or checked); a
    /// lower one never replaces a higher.
    public func remember(latestPositions: some Sequence<(userID: Int64, position: Int64)>) {
        self.state.withLock { state in
            state.generation += 1
            for item in latestPositions {
                if let known = state.latestPositions[item.userID] {
                    if item.position > known.position { state.latestPositions[item.userID] = (item.position, state.generation) }
                } else if state.latestPositions.count < self.maximumAccounts {
                    state.latestPositions[item.userID] = (item.position, state.generation)
                }
            }
        }
    }

    /// Remembers where a full verification found the first entry missing (the lowest one seen
    /// is kept until `forgetAll`, after an operator acknowledged the alarm).
    public func remember(firstMissingPosition: Int64) {
        self.state.withLock { state in
            state.firstMissingPosition = min(state.firstMissingPosition ?? firstMissingPosition, firstMissingPosition)
        }
    }

    /// The head last verified or committed; nil until the first transaction.
    public var head: LedgerIntegrity.ChainPoint? {
        self.state.withLock { $0.head }
    }

    /// Moves the verified head (after a commit, or after checking a segment written elsewhere).
    public func remember(head: LedgerIntegrity.ChainPoint) {
        self.state.withLock { $0.head = head }
    }

    /// The tree's right edge and latest signed head, as the store last committed or verified
    /// them; nil until then (the store then checks the stored ones against a signed head).
    public var tree: VerifiedTree? {
        self.state.withLock { $0.tree }
    }

    /// Moves the verified tree (after a commit, or after checking entries written elsewhere).
    public func remember(tree: VerifiedTree) {
        self.state.withLock { $0.tree = tree }
    }

    /// Forgets everything (after an operator acknowledged an alarm about the ledger's history).
    public func forgetAll() {
        self.state.withLock { $0 = State() }
    }
}

/// Rows a transaction checked or wrote, handed to a `VerifiedRowCache` once it commits (a
/// transaction that rolls back must not make anything count as verified).
public struct VerifiedRowsStaging: Sendable {
    public var accounts: [(userID: Int64, balanceCents: Int64, mac: [UInt8])] = []
    public var head: LedgerIntegrity.ChainPoint?
    /// Entry positions of accounts: the parties of new entries, accounts checked whole.
    public var latestPositions: [(userID: Int64, position: Int64)] = []
    /// The tree after the transaction.
    public var tree: VerifiedTree?

    public init() {}

    /// Stages the parties of an entry the transaction writes.
    public mutating func wrote(_ entry: LedgerEntry) {
        self.latestPositions.append((entry.fromUserID, entry.position))
        self.latestPositions.append((entry.toUserID, entry.position))
    }

    public func publish(to cache: VerifiedRowCache) {
        cache.remember(accounts: self.accounts)
        cache.remember(latestPositions: self.latestPositions)
        if let head = self.head { cache.remember(head: head) }
        if let tree = self.tree { cache.remember(tree: tree) }
    }
}

/// The tree over entries that were verified (or written by this store): its right edge, enough
/// to append without reading stored nodes, and the latest head signed over it (for a group
/// that appends nothing, such as a retry).
public struct VerifiedTree: Hashable, Sendable {
    public let frontier: MerkleFrontier
    public let head: SignedTreeHead

    public init(frontier: MerkleFrontier, head: SignedTreeHead) {
        precondition(frontier.treeSize == head.treeSize, "a verified tree's head is over its frontier")
        self.frontier = frontier
        self.head = head
    }
}
