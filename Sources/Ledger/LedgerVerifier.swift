import Dispatch
/// Rows as stored, with their seals, for `LedgerVerifier`.
public struct SealedEntry: Sendable {
    public let entry: LedgerEntry
    public let chainHash: [UInt8]?
    public let mac: [UInt8]?

    public init(entry: LedgerEntry, chainHash: [UInt8]?, mac: [UInt8]?) {
        self.entry = entry
        self.chainHash = chainHash
        self.mac = mac
    }
}

public struct SealedAccount: Sendable {
    public let userID: Int64
    public let username: String
    public let balanceCents: Int64
    public let mac: [UInt8]?

    public init(userID: Int64, username: String, balanceCents: Int64, mac: [UInt8]?) {
        self.userID = userID
        self.username = username
        self.balanceCents = balanceCents
        self.mac = mac
    }
}

public struct SealedUser: Sendable {
    public let id: Int64
    public let username: String
    public let passwordHash: String
    public let mac: [UInt8]?

    public init(id: Int64, username: String, passwordHash: String, mac: [UInt8]?) {
        self.id = id
        self.username = username
        self.passwordHash = passwordHash
        self.mac = mac
    }
}

/// One thing `verify` found wrong, with its kind and place.
public struct IntegrityViolation: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        case entryChanged = "entry-changed"
        case entryNotSealed = "entry-not-sealed"
        case entriesMissing = "entries-missing"
        case balanceChanged = "balance-changed"
        case balanceMismatch = "balance-mismatch"
        case userChanged = "user-changed"
        case checkpointInvalid = "checkpoint-invalid"
        case historyRewritten = "history-rewritten"
    }

    public let kind: Kind
    public let message: String

    public var description: String { "\(self.kind.rawValue): \(self.message)" }
}

/// Checks a ledger read back from a store: the hash chain, every row's MAC, and that every
/// balance equals the sum of its account's entries. Feed entries in position order, page by
/// page; then accounts and users; then read `violations`.
public struct LedgerVerifier {
    private let seal: LedgerSeal
    private var previous: (position: Int64, hash: [UInt8]) = (0, LedgerSeal.genesisHash)
    private var balances: [Int64: Int64] = [:]
    /// Chain hashes at checkpoint positions, collected while entries stream past.
    private var hashesAtCheckpoints: [Int64: [UInt8]] = [:]
    private let checkpointPositions: Set<Int64>
    public private(set) var violations: [IntegrityViolation] = []
    public private(set) var entriesChecked: Int64 = 0
    /// Stop collecting after this many violations (a destroyed ledger would otherwise list millions).
    public let maximumViolations: Int

    public init(seal: LedgerSeal, checkpointPositions: Set<Int64> = [], maximumViolations: Int = 1_000) {
        self.seal = seal
        self.checkpointPositions = checkpointPositions
        self.maximumViolations = maximumViolations
    }

    private mutating func report(_ kind: IntegrityViolation.Kind, _ message: String) {
        guard self.violations.count < self.maximumViolations else { return }
        self.violations.append(IntegrityViolation(kind: kind, message: message))
    }

    /// Checks the next entries (in ascending position order). The per-entry work (the entry's
    /// digest and its MAC) runs on all cores; only the chain links are sequential.
    public mutating func check(_ entries: [SealedEntry]) {
        let results = PageResults(count: entries.count)
        defer { results.release() }
        let seal = self.seal
        let workers = min(max(1, entries.count / 512), 8)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < entries.count {
                let sealed = entries[index]
                results.set(index, digest: LedgerSeal.entryDigest(sealed.entry),
                            sealValid: seal.isValid(sealed.mac, expected: seal.entryMAC(position: sealed.entry.position, chainHash: sealed.chainHash ?? [])))
                index += workers
            }
        }
        let digests = results.digests
        let sealsValid = results.sealsValid
        for (index, sealed) in entries.enumerated() {
            let entry = sealed.entry
            let position = entry.position
            self.entriesChecked += 1
            let contiguous = position == self.previous.position + 1
            if !contiguous {
                self.report(.entriesMissing, "entries \(self.previous.position + 1) to \(position - 1) are missing (deleted)")
            }
            let storedHash = sealed.chainHash ?? []
            if !sealsValid[index] {
                self.report(.entryNotSealed, "entry \(position) does not carry this deployment's seal (inserted, moved or forged)")
            } else if contiguous, LedgerSeal.chainHash(previous: self.previous.hash, entryDigest: digests[index]) != storedHash {
                self.report(.entryChanged, "\(self.changedField(entry)) changed in entry \(position)")
            }
            if self.checkpointPositions.contains(position) { self.hashesAtCheckpoints[position] = storedHash }
            self.applyBalances(entry)
            self.previous = (position, storedHash.count == 32 ? storedHash : LedgerSeal.genesisHash)
        }
    }

    /// Per-entry results of one page, written by several workers at disjoint indices (each index
    /// by exactly one worker) and read only after they all finished.
    private struct PageResults: @unchecked Sendable {
        let digests: UnsafeMutableBufferPointer<[UInt8]>
        let sealsValid: UnsafeMutableBufferPointer<Bool>

        init(count: Int) {
            self.digests = .allocate(capacity: count)
            self.digests.initialize(repeating: [])
            self.sealsValid = .allocate(capacity: count)
            self.sealsValid.initialize(repeating: false)
        }

        func set(_ index: Int, digest: [UInt8], sealValid: Bool) {
            self.digests[index] = digest
            self.sealsValid[index] = sealValid
        }

        func release() {
            self.digests.deinitialize()
            self.digests.deallocate()
            self.sealsValid.deallocate()
        }
    }

    /// Names the field most likely changed, from the balance arithmetic around the entry.
    private func changedField(_ entry: LedgerEntry) -> String {
        let fromBefore = self.balances[entry.fromUserID, default: 0]
        let toBefore = self.balances[entry.toUserID, default: 0]
        let senderAdds = fromBefore - entry.amount.cents == entry.fromBalanceAfterCents
        let recipientAdds = toBefore + entry.amount.cents == entry.toBalanceAfterCents
        switch (senderAdds, recipientAdds) {
        case (false, false): return "amount"
        case (true, false): return "recipient or recipient balance"
        case (false, true): return "sender or sender balance"
        case (true, true): return "content"
        }
    }

    private mutating func applyBalances(_ entry: LedgerEntry) {
        self.balances[entry.fromUserID, default: 0] -= entry.amount.cents
        self.balances[entry.toUserID, default: 0] += entry.amount.cents
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
                self.report(.balanceChanged, "balance of account \(account.userID) (\(account.username)) was changed outside Integra")
            }
            let ledger = self.balances[account.userID, default: 0]
            if ledger != account.balanceCents {
                self.report(.balanceMismatch, "account \(account.userID) (\(account.username)) holds \(Amount.format(cents: account.balanceCents)) but its entries sum to \(Amount.format(cents: ledger))")
            }
        }
    }

    /// Checks user rows: a changed name or password hash breaks the MAC.
    public mutating func check(users: some Sequence<SealedUser>) {
        for user in users where !self.seal.isValid(user.mac, expected: self.seal.userMAC(userID: user.id, username: user.username, passwordHash: user.passwordHash)) {
            self.report(.userChanged, "user \(user.id) (\(user.username)): name or password hash was changed outside Integra")
        }
    }
}

extension LedgerVerifier {
    /// Reads the whole store page by page and checks it. `progress` gets the number of entries
    /// checked after each page.
    public static func run(
        store: any LedgerStore, seal: LedgerSeal, anchor: LedgerCheckpoint? = nil,
        isAuthentic: (LedgerCheckpoint) -> Bool = { _ in true },
        pageSize: Int = 20_000, progress: (Int64) -> Void = { _ in }
    ) async throws(LedgerError) -> LedgerVerifier {
        precondition(pageSize >= 1)
        let checkpoints = try await store.checkpoints()
        var verifier = LedgerVerifier(seal: seal, checkpointPositions: Set((checkpoints + (anchor.map { [$0] } ?? [])).map(\.position)))
        // The next page is read while this one is checked.
        var page = try await store.sealedEntries(afterPosition: 0, limit: pageSize)
        while let last = page.last {
            let next = Task { try await store.sealedEntries(afterPosition: last.entry.position, limit: pageSize) }
            verifier.check(page)
            progress(verifier.entriesChecked)
            do {
                page = try await next.value
            } catch let error as LedgerError {
                throw error
            } catch {
                throw .storeUnavailable("\(error)")
            }
        }
        verifier.check(checkpoints: checkpoints, anchor: anchor, isAuthentic: isAuthentic)
        verifier.check(accounts: try await store.sealedAccounts())
        verifier.check(users: try await store.sealedUsers())
        return verifier
    }
}
