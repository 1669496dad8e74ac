import Synchronization

/// What a store has checked (or written itself) and may trust again while the stored bytes are
/// unchanged: account rows by their exact balance and MAC, and the ledger's head.
///
/// A row changed, restored or replaced outside Integra has other bytes and is checked again
/// (`LedgerIntegrity`); so keeping a verified row costs one comparison instead of reading and
/// hashing its latest entry on every transaction. Bounded: past `maximumAccounts` it starts over.
public final class VerifiedRowCache: Sendable {
    private struct VerifiedAccount {
        let balanceCents: Int64
        let mac: [UInt8]
    }

    private struct State {
        var accounts: [Int64: VerifiedAccount] = [:]
        var head: LedgerIntegrity.ChainPoint?
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

    /// The head last verified or committed; nil until the first transaction.
    public var head: LedgerIntegrity.ChainPoint? {
        self.state.withLock { $0.head }
    }

    /// Moves the verified head (after a commit, or after checking a segment written elsewhere).
    public func remember(head: LedgerIntegrity.ChainPoint) {
        self.state.withLock { $0.head = head }
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

    public init() {}

    public func publish(to cache: VerifiedRowCache) {
        cache.remember(accounts: self.accounts)
        if let head = self.head { cache.remember(head: head) }
    }
}
