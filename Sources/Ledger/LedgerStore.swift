public import IntegraTransparency
/// Where users, accounts, ledger entries and seen nonces live. SQLite and MariaDB implement it.
///
/// All changes go through `commit`, which applies many requests in one store transaction
/// (group commit). Only one `commit` runs at a time per store instance; `GroupCommitter` ensures it.
/// Reads may run concurrently with a commit.
public protocol LedgerStore: Sendable {
    /// Applies the requests in order, atomically: either every outcome is durable or the call
    /// throws `LedgerError.storeUnavailable` and nothing was applied.
    func commit(_ requests: [WriteRequest], nowMs: Int64) async throws(LedgerError) -> [WriteOutcome]

    /// The customer with this canonical name, or nil; checked (`UserRecord.violation`) against
    /// its seal and the credential version the ledger records for it.
    func user(named username: Username) async throws(LedgerError) -> UserRecord?

    /// A user's account row with its latest entry, for `LedgerIntegrity.check`; nil if there is
    /// no such user.
    func account(ofUserID userID: Int64) async throws(LedgerError) -> AccountEvidence?

    /// Money entries that debit or credit the user, newest first, strictly before
    /// `beforePosition` if given, each with the chain hash before it (for `LedgerIntegrity.check`).
    func sealedHistory(ofUserID userID: Int64, beforePosition: Int64?, limit: Int) async throws(LedgerError) -> [EntryEvidence]

    /// The entry at `position` with the chain hash before it, or nil.
    func entry(at position: Int64) async throws(LedgerError) -> EntryEvidence?

    /// Records an alarm, or its acknowledgement (same id), sealed with the storage key.
    func recordAlarm(_ alarm: AlarmRecord) async throws(LedgerError)

    /// The alarms recorded in the store (at most `limit`), with their seals.
    func alarms(limit: Int) async throws(LedgerError) -> [SealedAlarm]

    /// Forgets which rows and which head were verified, so everything is checked again (after an
    /// operator acknowledged an alarm about the ledger's history).
    func forgetVerifiedRows() async

    /// Remembers the latest entry position of accounts, as a full verification found them, and
    /// the first position it found no entry at: from then on a read of an account that finds an
    /// earlier latest entry, or one before the missing position, raises the alarm, even for
    /// entries deleted or changed while the server was stopped.
    func rememberVerified(latestPositions: [(userID: Int64, position: Int64)], firstMissingPosition: Int64?) async

    /// Forgets nonces of frames stamped before `olderThanMs` (now minus the widest replay window
    /// ever configured): no window lets those frames pass. Returns how many.
    func pruneNonces(olderThanMs: Int64) async throws(LedgerError) -> Int

    /// A deployment-wide setting (`Setting`), if recorded.
    func setting(_ setting: Setting) async throws(LedgerError) -> Int64?

    /// Records a setting; with `onlyRaise`, only if larger than the recorded one. Returns the
    /// value recorded afterwards.
    func record(_ setting: Setting, _ value: Int64, onlyRaise: Bool) async throws(LedgerError) -> Int64

    /// Totals over the whole ledger.
    func summary() async throws(LedgerError) -> LedgerSummary

    /// Entries with their seals, in position order, strictly after `afterPosition`.
    func sealedEntries(afterPosition: Int64, limit: Int) async throws(LedgerError) -> [SealedEntry]

    /// The last entry's position and chain hash (0 and the genesis hash for an empty ledger).
    func head() async throws(LedgerError) -> (position: Int64, chainHash: [UInt8])

    /// Stores a signed checkpoint (ignored if one exists for that position).
    func recordCheckpoint(_ checkpoint: LedgerCheckpoint) async throws(LedgerError)

    /// Every stored checkpoint, in position order.
    func checkpoints() async throws(LedgerError) -> [LedgerCheckpoint]

    /// Every account row with its seal.
    func sealedAccounts() async throws(LedgerError) -> [SealedAccount]

    /// Every user row (the system account included) with its seal.
    func sealedUsers() async throws(LedgerError) -> [SealedUser]

    /// The tree this store last committed or verified, with its signed head; nil before the
    /// first group commit or after `forgetVerifiedRows`.
    func verifiedTree() async -> VerifiedTree?

    /// The stored signed tree head with the largest tree size (unchecked).
    func latestTreeHead() async throws(LedgerError) -> SignedTreeHead?

    /// Stored signed tree heads above `afterTreeSize`, smallest first, at most `limit` (verify).
    func treeHeads(afterTreeSize: UInt64, limit: Int) async throws(LedgerError) -> [SignedTreeHead]

    /// Stored tree nodes by id; missing ones are left out (unchecked: a proof made from them is
    /// checked against a signed root before use). At most `MerkleTree.maximumProofNodeCount` ids.
    func treeNodes(_ ids: [MerkleNodeID]) async throws(LedgerError) -> [MerkleNodeID: [UInt8]]

    /// The schema version the store is at (the same numbers for every store).
    func schemaVersion() async throws(LedgerError) -> Int64

    /// Ties the store to one deployment: the first call records the fingerprint of the
    /// deployment's keys; later calls (other instances, restarts) must present the same one,
    /// or get `deploymentMismatch`.
    func bindDeployment(fingerprint: [UInt8]) async throws(LedgerError)

    /// The store's own background work, until the calling task is cancelled (SQLite: copying
    /// the WAL back into the database file off the commit path). A running deployment runs it as
    /// one of its services and closes the store only after it returned; a store opened for one
    /// command does without it. A store with no such work returns at once.
    func maintain() async

    /// Releases connections. The store is unusable afterwards.
    func close() async
}

/// Settings the deployment keeps in its store, shared by every instance and admin command.
public enum Setting: String, Sendable, CaseIterable {
    /// The widest replay window any instance was ever configured with: nonces are kept that long.
    case maximumReplayWindowMs = "max_replay_window_ms"
    /// The bcrypt cost the server hashes new passwords with (`user add` uses it too).
    case bcryptCost = "bcrypt_cost"
}

extension LedgerStore {
    public func maintain() async {}

    /// The current balance of a user's account in cents, or nil if there is no such user
    /// (unchecked: for tools and tests).
    public func balance(ofUserID userID: Int64) async throws(LedgerError) -> Int64? {
        try await self.account(ofUserID: userID)?.balanceCents
    }

    /// Money entries that debit or credit the user, newest first (unchecked: for tools and tests).
    public func history(ofUserID userID: Int64, beforePosition: Int64?, limit: Int) async throws(LedgerError) -> [LedgerEntry] {
        try await self.sealedHistory(ofUserID: userID, beforePosition: beforePosition, limit: limit).map(\.sealed.entry)
    }
}
