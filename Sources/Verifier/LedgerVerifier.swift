import Dispatch
public import IntegraLedger

/// Checks a ledger read back from a store: the hash chain, every row's MAC, and that every
/// balance equals the sum of its account's entries. Feed entries in position order, page by
/// page; then accounts and users; then read `violations`.
public struct LedgerVerifier {
    private let seal: LedgerSeal
    private var previous: (position: Int64, hash: [UInt8]) = (0, LedgerSeal.genesisHash)
    /// What each account's entries add up to, by user id.
    private var balances = UserIDMap<Int64>()
    /// The latest credential version each user's credential entries record, by user id.
    private var credentialVersions = UserIDMap<Int64>()
    /// The position of each account's latest entry, by user id.
    private var latestPositionsByUser = UserIDMap<Int64>()
    /// Chain hashes at checkpoint positions, collected while entries stream past.
    private var hashesAtCheckpoints: [Int64: [UInt8]] = [:]
    private let checkpointPositions: Set<Int64>
    public private(set) var violations: [IntegrityViolation] = []
    public private(set) var entriesChecked: Int64 = 0
    /// The first position below the ledger's end that holds no entry, if any.
    public private(set) var firstMissingPosition: Int64?
    /// Stop collecting after this many violations (a destroyed ledger would otherwise list millions).
    public let maximumViolations: Int

    public init(seal: LedgerSeal, checkpointPositions: Set<Int64> = [], maximumViolations: Int = 1_000) {
        self.seal = seal
        self.checkpointPositions = checkpointPositions
        self.maximumViolations = maximumViolations
    }

    private mutating func report(_ kind: IntegrityViolation.Kind, _ message: String, userID: Int64? = nil) {
        guard self.violations.count < self.maximumViolations else { return }
        self.violations.append(IntegrityViolation(kind: kind, message: message, userID: userID))
    }

    /// Checks the next page of entries (in ascending position order). The per-entry work (digest,
    /// chain link and MAC) runs on all cores; only the bookkeeping (gaps, balances, findings) is
    /// sequential.
    public mutating func check(_ page: SealedEntryPage, parallel: Bool = true) {
        guard page.count > 0 else { return }
        let verdicts = self.verdicts(page, parallel: parallel)
        let hasCheckpoints = !self.checkpointPositions.isEmpty
        var previousPosition = self.previous.position
        page.withView { view in
            for index in 0..<view.rows.count {
                let row = view.rows[index]
                let position = row.position
                self.entriesChecked += 1
                let contiguous = position == previousPosition + 1
                if !contiguous {
                    if self.firstMissingPosition == nil { self.firstMissingPosition = previousPosition + 1 }
                    self.report(
                        .entriesMissing,
                        "entries \(previousPosition + 1) to \(position - 1) are missing (deleted, or changed to name users that do not exist)")
                }
                if !verdicts[index].contains(.sealValid) {
                    self.report(.entryNotSealed, "entry \(position) does not carry this deployment's seal (inserted, moved or forged)")
                } else if contiguous, !verdicts[index].contains(.linkValid) {
                    self.report(.entryChanged, "\(self.changedField(row)) changed in entry \(position)")
                }
                if hasCheckpoints, self.checkpointPositions.contains(position) { self.hashesAtCheckpoints[position] = page.chainHash(at: index) }
                if row.kind == EntryKind.credentialChange.rawValue, let version = CredentialEntry.version(transferID: view.string(row.transferID)) {
                    self.credentialVersions[row.fromUserID] = max(self.credentialVersions[row.fromUserID] ?? 0, version)
                }
                self.applyBalances(row)
                self.latestPositionsByUser[row.fromUserID] = position
                self.latestPositionsByUser[row.toUserID] = position
                previousPosition = position
            }
        }
        let last = page.count - 1
        let lastHash = page.chainHash(at: last)
        self.previous = (previousPosition, lastHash.count == LedgerSeal.hashByteCount ? lastHash : LedgerSeal.genesisHash)
    }

    /// Each account's latest entry position among the entries checked, for the store to hold
    /// every later read of the account against (`VerifiedRowCache`).
    public var latestPositions: [(userID: Int64, position: Int64)] {
        var positions: [(userID: Int64, position: Int64)] = []
        self.latestPositionsByUser.forEach { positions.append(($0, $1)) }
        return positions
    }

    /// What the parallel pass found about one entry.
    struct Verdict: OptionSet {
        let rawValue: UInt8
        /// The entry's MAC is this deployment's, over its position and stored chain hash.
        static let sealValid = Verdict(rawValue: 1)
        /// The stored chain hash is SHA-256(previous entry's stored chain hash ‖ digest of this entry).
        static let linkValid = Verdict(rawValue: 2)
    }

    /// Rows per unit of parallel work: big enough to amortise scheduling, small enough to balance.
    private static let rowsPerTask = 1_024

    /// Checks every entry's MAC and chain link on all cores. Each link only needs the previous
    /// row's stored chain hash (or, for the first row, the last one of the previous page).
    private func verdicts(_ page: SealedEntryPage, parallel: Bool) -> [Verdict] {
        let seal = self.seal
        var verdicts = [Verdict](repeating: [], count: page.count)
        self.previous.hash.withUnsafeBytes { carried in
            LedgerSeal.genesisHash.withUnsafeBytes { genesis in
                verdicts.withUnsafeMutableBufferPointer { verdicts in
                    page.withView { view in
                        let shared = VerdictBuffer(verdicts: verdicts, carried: carried, genesis: genesis)
                        let tasks = (view.rows.count + Self.rowsPerTask - 1) / Self.rowsPerTask
                        let work: @Sendable (Int) -> Void = { task in
                            let hasher = seal.makeEntryHasher()
                            for index in task * Self.rowsPerTask..<min((task + 1) * Self.rowsPerTask, view.rows.count) {
                                shared.verdicts[index] = Self.verdict(index, view: view, previous: shared.previousHash(index, view: view), hasher: hasher)
                            }
                        }
                        if parallel {
                            DispatchQueue.concurrentPerform(iterations: tasks, execute: work)
                        } else {
                            for task in 0..<tasks { work(task) }
                        }
                    }
                }
            }
        }
        return verdicts
    }

    /// Output slots and the hashes the first row links to, shared by the workers of one page.
    /// Each worker writes only its own indices.
    private struct VerdictBuffer: @unchecked Sendable {
        let verdicts: UnsafeMutableBufferPointer<Verdict>
        let carried: UnsafeRawBufferPointer
        let genesis: UnsafeRawBufferPointer

        /// The chain hash entry `index` must link to, as the sequential rules define it: the
        /// previous row's stored hash if it has 32 bytes, else the genesis hash.
        func previousHash(_ index: Int, view: SealedEntryPage.View) -> UnsafeRawBufferPointer {
            guard index > 0 else { return self.carried }
            return view.rows[index - 1].chainHashIsRegular ? view.chainHash(index - 1) : self.genesis
        }
    }

    private static func verdict(_ index: Int, view: SealedEntryPage.View, previous: UnsafeRawBufferPointer, hasher: EntrySealHasher) -> Verdict {
        let row = view.rows[index]
        // A chain hash or MAC that is not 32 bytes long was never sealed by this deployment.
        guard row.chainHashIsRegular, row.macIsRegular else { return [] }
        let stored = view.chainHash(index)
        let fields = LedgerSeal.entryFields(
            position: row.position, kind: row.kind, transferID: view.string(row.transferID),
            fromUserID: row.fromUserID, from: view.string(row.from), toUserID: row.toUserID, to: view.string(row.to),
            amountCents: row.amountCents, fromBalanceAfterCents: row.fromBalanceAfterCents,
            toBalanceAfterCents: row.toBalanceAfterCents, createdAtMs: row.createdAtMs)
        let hashes = 2 * LedgerSeal.hashByteCount
        return withUnsafeTemporaryAllocation(byteCount: hashes + fields.encodedByteCount, alignment: 8) { scratch in
            let first = UnsafeMutableRawBufferPointer(rebasing: scratch[..<LedgerSeal.hashByteCount])
            let second = UnsafeMutableRawBufferPointer(rebasing: scratch[LedgerSeal.hashByteCount..<hashes])
            let sealValid = LedgerSeal.withEntryMACInput(position: row.position, chainHash: stored) { input in
                hasher.authenticationCode(input, into: first)
                return LedgerSeal.constantTimeEqual(UnsafeRawBufferPointer(first), view.mac(index))
            }
            guard sealValid else { return [] }
            let encoding = UnsafeMutableRawBufferPointer(rebasing: scratch[hashes...])
            fields.encode(into: encoding)
            hasher.digest(UnsafeRawBufferPointer(encoding), into: first)
            hasher.link(previous: previous, entryDigest: UnsafeRawBufferPointer(first), into: second)
            return LedgerSeal.constantTimeEqual(UnsafeRawBufferPointer(second), stored) ? [.sealValid, .linkValid] : [.sealValid]
        }
    }

    /// Names the field most likely changed, from the balance arithmetic around the entry.
    private func changedField(_ row: SealedEntryPage.Row) -> String {
        let fromBefore = self.balances[row.fromUserID] ?? 0
        let toBefore = self.balances[row.toUserID] ?? 0
        let senderAdds = fromBefore &- row.amountCents == row.fromBalanceAfterCents
        let recipientAdds = toBefore &+ row.amountCents == row.toBalanceAfterCents
        switch (senderAdds, recipientAdds) {
        case (false, false): return "amount"
        case (true, false): return "recipient or recipient balance"
        case (false, true): return "sender or sender balance"
        case (true, true): return "content"
        }
    }

    private mutating func applyBalances(_ row: SealedEntryPage.Row) {
        // Wrapping: amounts are whatever the table holds, and a sum that wrapped still differs
        // from the balance it is checked against.
        self.balances[row.fromUserID] = (self.balances[row.fromUserID] ?? 0) &- row.amountCents
        self.balances[row.toUserID] = (self.balances[row.toUserID] ?? 0) &+ row.amountCents
    }

    /// Checks signed checkpoints against the entries read: each must be signed by the server's
    /// identity (`isAuthentic`) and name a chain hash the ledger still has at that position.
    /// `anchor` is the latest checkpoint kept outside the database.
    public mutating func check(checkpoints: [LedgerCheckpoint], anchor: LedgerCheckpoint?, isAuthentic: (LedgerCheckpoint) -> Bool) {
        for checkpoint in checkpoints + (anchor.map { [$0] } ?? []) {
            guard isAuthentic(checkpoint) else {
                self.report(.checkpointInvalid, "checkpoint at entry \(checkpoint.position) is not signed by this server")
                continue
            }
            guard checkpoint.position <= self.previous.position else {
                self.report(.historyRewritten, "a checkpoint covers entry \(checkpoint.position) but the ledger ends at entry \(self.previous.position): entries were removed or an older copy of the database was restored")
                continue
            }
            if let hash = self.hashesAtCheckpoints[checkpoint.position], hash != checkpoint.chainHash {
                self.report(.historyRewritten, "entry \(checkpoint.position) no longer has the chain hash its checkpoint signed: history was rewritten")
            }
        }
    }

    /// Checks account rows: their MACs, and that each balance is the sum of its entries.
    public mutating func check(accounts: some Sequence<SealedAccount>) {
        for account in accounts {
            if !self.seal.isValid(account.mac, expected: self.seal.accountMAC(userID: account.userID, balanceCents: account.balanceCents)) {
                self.report(.balanceChanged, "balance of account \(account.userID) (\(account.username)) was changed outside Integra", userID: account.userID)
            }
            let ledger = self.balances[account.userID] ?? 0
            if ledger != account.balanceCents {
                self.report(.balanceMismatch, "account \(account.userID) (\(account.username)) holds \(Amount.format(cents: account.balanceCents)) but its entries sum to \(Amount.format(cents: ledger))", userID: account.userID)
            }
        }
    }

    /// Checks user rows: a changed name or password hash breaks the MAC, and a restored older row
    /// is behind the credential version the ledger records.
    /// Keys moved between rows break `LedgerIntegrity.checkKeys`; a key taken away from its row
    /// (the account no longer found by its name) is only allowed where another row holds it.
    public mutating func check(users: some Sequence<SealedUser>) {
        var lookupNames = Set<String>()
        var skeletons = Set<String>()
        var keyless: [SealedUser] = []
        for user in users {
            let latest = self.credentialVersions[user.id] ?? 0
            if let violation = LedgerIntegrity.check(user, latestCredentialVersion: latest, seal: self.seal) {
                self.report(violation.kind, violation.message, userID: violation.userID)
            }
            if let lookupName = user.keys.lookupName { lookupNames.insert(lookupName) }
            if let skeleton = user.keys.skeleton { skeletons.insert(skeleton) }
            if user.keys.lookupName == nil || user.keys.skeleton == nil { keyless.append(user) }
        }
        for user in keyless {
            // Only the version 7 migration leaves a row without keys: both of them, where an earlier
            // account already holds one.
            let derived = Username.keys(forStoredName: user.username)
            let bothMissing = user.keys.lookupName == nil && user.keys.skeleton == nil
            if !bothMissing || !(lookupNames.contains(derived.lookupForm) || skeletons.contains(derived.skeleton)) {
                self.report(.userChanged, "user \(user.id) (\(user.username)): the name it is looked up by was removed outside Integra", userID: user.id)
            }
        }
    }
}

extension LedgerVerifier {
    /// Reads the whole store page by page and checks it. `progress` gets the number of entries
    /// checked after each page.
    public static func run(
        store: any LedgerStore, seal: LedgerSeal, anchor: LedgerCheckpoint? = nil,
        isAuthentic: (LedgerCheckpoint) -> Bool = { _ in true },
        pageSize: Int = 20_000, executor: (any LedgerCheckExecutor)? = nil, progress: (Int64) -> Void = { _ in }
    ) async throws(LedgerError) -> LedgerVerifier {
        precondition(pageSize >= 1)
        let checkpoints = try await store.checkpoints()
        var verifier = LedgerVerifier(seal: seal, checkpointPositions: Set((checkpoints + (anchor.map { [$0] } ?? [])).map(\.position)))
        // Two pages: the store fills one while the other is checked.
        let reader = try await store.makeSealedEntryReader()
        var page = SealedEntryPage(capacity: pageSize)
        var spare = SealedEntryPage(capacity: pageSize)
        try await reader.read(afterPosition: 0, into: page)
        while let last = page.lastPosition {
            let next = spare
            let reading = Task { try await reader.read(afterPosition: last, into: next) }
            if let executor {
                let box = VerifierBox(verifier)
                let checked = page
                await executor.run { box.verifier.check(checked, parallel: false) }
                verifier = box.verifier
            } else {
                verifier.check(page)
            }
            progress(verifier.entriesChecked)
            do {
                try await reading.value
            } catch let error as LedgerError {
                throw error
            } catch {
                throw .storeUnavailable("\(error)")
            }
            spare = page
            page = next
        }
        verifier.check(checkpoints: checkpoints, anchor: anchor, isAuthentic: isAuthentic)
        verifier.check(accounts: try await store.sealedAccounts())
        verifier.check(users: try await store.sealedUsers())
        return verifier
    }
}

/// Where a background verification runs its checks: on a thread that yields to the server's
/// work (the server's idle-priority thread), one page at a time.
public protocol LedgerCheckExecutor: Sendable {
    func run(_ work: @escaping @Sendable () -> Void) async
}

/// Hands the verifier to the executor's thread and back; used by one page check at a time.
private final class VerifierBox: @unchecked Sendable {
    var verifier: LedgerVerifier

    init(_ verifier: LedgerVerifier) {
        self.verifier = verifier
    }
}
