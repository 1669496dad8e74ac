public import Crypto
import Dispatch
public import IntegraLedger
public import IntegraTransparency

/// Checks a ledger read back from a store: the hash chain, every row's MAC, that every
/// balance equals the sum of its account's entries, and that every stored signed tree head is
/// the root of the RFC 9162 tree over the entries it covers. Give it the stored heads
/// (`expectTreeHeads`), feed entries in position order, page by page; then `finishTree`,
/// accounts and users; then read `violations`.
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
    /// The ledger's tree, folded from the entries' leaf hashes as they stream past.
    private var fold = MerkleFold()
    /// The stored signed heads, smallest first, and the index of the next one the fold reaches.
    private var treeHeads: [SignedTreeHead] = []
    private var nextTreeHead = 0
    /// Whether the fold still follows the ledger: false past the first missing entry.
    private var treeFollowsLedger = true
    /// The largest head whose root the fold matched.
    private var lastMatchingHeadSize: UInt64 = 0
    /// A run of heads whose roots the fold did not match, not yet reported.
    private var mismatchedHeads: (first: UInt64, last: UInt64, count: Int, after: UInt64)?
    /// The first stored tree node that differs from the node folded from the entries, and how
    /// many do; reported once, at the end.
    private var badTreeNodes: (level: UInt8, index: UInt64, comparison: StoredTreeNodes.Comparison, count: Int)?
    /// Whether the entries differ from what the latest heads signed (a run of failing heads
    /// that no later head ends).
    private var entriesDifferFromSignedHeads = false
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
        let (verdicts, leafHashes) = self.verdicts(page, parallel: parallel)
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
                if self.treeFollowsLedger { self.foldLeaf(position: position, index: index, leafHashes: leafHashes, storedNodes: page.treeNodes) }
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

    /// Checks every entry's MAC and chain link on all cores, and computes each entry's leaf hash
    /// in the tree, 32 bytes per row. Each link only needs the previous row's stored chain hash
    /// (or, for the first row, the last one of the previous page).
    private func verdicts(_ page: SealedEntryPage, parallel: Bool) -> (verdicts: [Verdict], leafHashes: [UInt8]) {
        let seal = self.seal
        var verdicts = [Verdict](repeating: [], count: page.count)
        var leafHashes = [UInt8](repeating: 0, count: page.count * LedgerSeal.hashByteCount)
        self.previous.hash.withUnsafeBytes { carried in
            LedgerSeal.genesisHash.withUnsafeBytes { genesis in
                verdicts.withUnsafeMutableBufferPointer { verdicts in
                    leafHashes.withUnsafeMutableBytes { leafHashes in
                        page.withView { view in
                            let shared = VerdictBuffer(verdicts: verdicts, leafHashes: leafHashes, carried: carried, genesis: genesis)
                            let tasks = (view.rows.count + Self.rowsPerTask - 1) / Self.rowsPerTask
                            let work: @Sendable (Int) -> Void = { task in
                                let hasher = seal.makeEntryHasher()
                                for index in task * Self.rowsPerTask..<min((task + 1) * Self.rowsPerTask, view.rows.count) {
                                    let leafHash = UnsafeMutableRawBufferPointer(rebasing: shared.leafHashes[index * LedgerSeal.hashByteCount..<(index + 1) * LedgerSeal.hashByteCount])
                                    shared.verdicts[index] = Self.verdict(
                                        index, view: view, previous: shared.previousHash(index, view: view), hasher: hasher, leafHash: leafHash)
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
        }
        return (verdicts, leafHashes)
    }

    /// Output slots and the hashes the first row links to, shared by the workers of one page.
    /// Each worker writes only its own indices.
    private struct VerdictBuffer: @unchecked Sendable {
        let verdicts: UnsafeMutableBufferPointer<Verdict>
        let leafHashes: UnsafeMutableRawBufferPointer
        let carried: UnsafeRawBufferPointer
        let genesis: UnsafeRawBufferPointer

        /// The chain hash entry `index` must link to, as the sequential rules define it: the
        /// previous row's stored hash if it has 32 bytes, else the genesis hash.
        func previousHash(_ index: Int, view: SealedEntryPage.View) -> UnsafeRawBufferPointer {
            guard index > 0 else { return self.carried }
            return view.rows[index - 1].chainHashIsRegular ? view.chainHash(index - 1) : self.genesis
        }
    }

    /// One entry's verdict, and its leaf hash SHA-256(0x00 ‖ canonical encoding) into `leafHash`
    /// whatever the verdict: the tree covers the entries as stored.
    private static func verdict(
        _ index: Int, view: SealedEntryPage.View, previous: UnsafeRawBufferPointer, hasher: EntrySealHasher, leafHash: UnsafeMutableRawBufferPointer
    ) -> Verdict {
        let row = view.rows[index]
        let fields = LedgerSeal.entryFields(
            position: row.position, kind: row.kind, transferID: view.string(row.transferID),
            fromUserID: row.fromUserID, from: view.string(row.from), toUserID: row.toUserID, to: view.string(row.to),
            amountCents: row.amountCents, fromBalanceAfterCents: row.fromBalanceAfterCents,
            toBalanceAfterCents: row.toBalanceAfterCents, createdAtMs: row.createdAtMs)
        let hashes = 2 * LedgerSeal.hashByteCount
        let macInput = LedgerSeal.entryMACInputByteCount
        // The scratch holds two hashes, the MAC input, then the leaf prefix 0x00 right before
        // the encoding.
        return withUnsafeTemporaryAllocation(byteCount: hashes + macInput + 1 + fields.encodedByteCount, alignment: 8) { scratch in
            let leafStart = hashes + macInput
            scratch[leafStart] = 0x00
            let encoding = UnsafeMutableRawBufferPointer(rebasing: scratch[(leafStart + 1)...])
            fields.encode(into: encoding)
            EntrySealHasher.sha256(UnsafeRawBufferPointer(rebasing: scratch[leafStart...]), into: leafHash)
            // A chain hash or MAC that is not 32 bytes long was never sealed by this deployment.
            guard row.chainHashIsRegular, row.macIsRegular else { return [] }
            let stored = view.chainHash(index)
            let first = UnsafeMutableRawBufferPointer(rebasing: scratch[..<LedgerSeal.hashByteCount])
            let second = UnsafeMutableRawBufferPointer(rebasing: scratch[LedgerSeal.hashByteCount..<hashes])
            let input = UnsafeMutableRawBufferPointer(rebasing: scratch[hashes..<leafStart])
            LedgerSeal.writeEntryMACInput(position: row.position, chainHash: stored, into: input)
            hasher.authenticationCode(UnsafeRawBufferPointer(input), into: first)
            guard LedgerSeal.constantTimeEqual(UnsafeRawBufferPointer(first), view.mac(index)) else { return [] }
            hasher.digest(UnsafeRawBufferPointer(encoding), into: first)
            hasher.link(previous: previous, entryDigest: UnsafeRawBufferPointer(first), into: second)
            return LedgerSeal.constantTimeEqual(UnsafeRawBufferPointer(second), stored) ? [.sealValid, .linkValid] : [.sealValid]
        }
    }

    /// The most stored signed heads verify loads (each is a few hundred bytes).
    public static let maximumTreeHeads = 10_000_000

    /// The stored signed tree heads, smallest first, before any entry is checked: each one's
    /// root is compared with the tree folded from the entries when the fold reaches its size.
    public mutating func expectTreeHeads(_ heads: [SignedTreeHead]) {
        precondition(self.entriesChecked == 0 && self.treeHeads.isEmpty)
        self.treeHeads = heads
        self.checkTreeHeadsAtFoldedSize()
    }

    /// Folds the entry at `position` (row `index` of its page) into the tree, comparing every
    /// node it completes with the stored one, or stops the tree check at the first missing entry:
    /// every later head covers the gap.
    private mutating func foldLeaf(position: Int64, index: Int, leafHashes: [UInt8], storedNodes: StoredTreeNodes) {
        guard UInt64(position) == self.fold.treeSize + 1 else {
            self.treeFollowsLedger = false
            self.report(
                .treeMismatch,
                "the tree is checked only up to entry \(self.fold.treeSize): entry \(self.fold.treeSize + 1) is missing, and the leaves of every later signed head with it")
            return
        }
        var firstBad: (level: UInt8, index: UInt64, comparison: StoredTreeNodes.Comparison)?
        var badCount = 0
        leafHashes.withUnsafeBytes { leafHashes in
            let leafHash = UnsafeRawBufferPointer(rebasing: leafHashes[index * LedgerSeal.hashByteCount..<(index + 1) * LedgerSeal.hashByteCount])
            self.fold.append(leafHash: leafHash) { level, index, hash in
                let comparison = storedNodes.compare(level: level, index: index, with: hash)
                guard comparison != .equal, comparison != .notRead else { return }
                badCount += 1
                if firstBad == nil { firstBad = (level, index, comparison) }
            }
        }
        if let firstBad {
            // The first bad node of the whole pass is kept; later pages only add to the count.
            self.badTreeNodes = self.badTreeNodes.map { ($0.level, $0.index, $0.comparison, $0.count + badCount) }
                ?? (firstBad.level, firstBad.index, firstBad.comparison, badCount)
        }
        self.checkTreeHeadsAtFoldedSize()
    }

    /// Compares the root of every head of the folded size with the fold's root.
    private mutating func checkTreeHeadsAtFoldedSize() {
        while self.nextTreeHead < self.treeHeads.count, self.treeHeads[self.nextTreeHead].treeSize <= self.fold.treeSize {
            let head = self.treeHeads[self.nextTreeHead]
            self.nextTreeHead += 1
            guard head.treeSize == self.fold.treeSize else { continue }
            self.compare(head, root: self.fold.rootHash)
        }
    }

    /// Records whether `head`'s root is `root`, the root recomputed from the entries at its size.
    /// A run of failing heads is reported once: when a later head matches again (its root
    /// commits to every entry it covers, so the entries are intact and the failing heads were
    /// changed), or at the end (then an entry between the last matching head and the first
    /// failing one differs from what was signed, or every head from there on was changed).
    private mutating func compare(_ head: SignedTreeHead, root: [UInt8]) {
        if head.rootHash == root {
            if let run = self.mismatchedHeads {
                self.mismatchedHeads = nil
                let which = run.count == 1
                    ? "the signed head of \(run.first) entries does not match the entries: its root differs"
                    : "the signed heads of \(run.first) to \(run.last) entries (\(run.count) heads) do not match the entries: their roots differ"
                self.report(.treeMismatch, "\(which), but the later head of \(head.treeSize) entries matches them: the stored heads were changed")
            }
            self.lastMatchingHeadSize = head.treeSize
            return
        }
        if let run = self.mismatchedHeads {
            self.mismatchedHeads = (run.first, head.treeSize, run.count + 1, run.after)
        } else {
            self.mismatchedHeads = (head.treeSize, head.treeSize, 1, self.lastMatchingHeadSize)
        }
    }

    /// Names the first stored node that differs from the entries. The server checks the nodes
    /// it reads against signed roots, so it refuses the proofs (and, on the tree's right edge,
    /// the transfers) that need such a node with `tree-mismatch` until the node is rewritten.
    /// Only when the entries are intact and every head's root is theirs: otherwise the stored
    /// nodes differ because the entries or heads do, which is reported already, and rewriting the
    /// nodes is not the remedy.
    private mutating func reportBadTreeNodes() {
        guard let bad = self.badTreeNodes, !self.entriesDifferFromSignedHeads,
              !self.violations.contains(where: { [.entryChanged, .entryNotSealed, .entriesMissing].contains($0.kind) }) else { return }
        let firstLeaf = bad.index << bad.level
        let entries = bad.level == 0 ? "entry \(firstLeaf + 1)" : "entries \(firstLeaf + 1) to \(firstLeaf + (1 << bad.level))"
        let what = switch bad.comparison {
        case .missing: "is missing"
        case .malformed: "is not a 32-byte hash"
        default: "does not match the entries"
        }
        let others = bad.count == 1 ? "" : " (and \(bad.count - 1) more stored nodes differ)"
        self.report(
            .treeMismatch,
            "the stored tree node at level \(bad.level), index \(bad.index) (over \(entries)) \(what)\(others): proofs through it are refused until `integra-server rebuild-tree` rewrites the nodes from the verified entries")
    }

    private mutating func reportOpenMismatch() {
        guard let run = self.mismatchedHeads else { return }
        self.mismatchedHeads = nil
        self.entriesDifferFromSignedHeads = true
        let later = run.count == 1 ? "" : " (and so do the \(run.count - 1) later heads up to \(run.last) entries)"
        self.report(
            .treeMismatch,
            "the signed head of \(run.first) entries does not match the entries: its root differs\(later); the first entry that differs from what was signed is between positions \(run.after + 1) and \(run.first), unless the heads were changed")
    }

    /// Ends the tree check after the last page: reports failing heads, heads that cover more
    /// entries than the ledger holds, a ledger whose last entries no head covers, and heads not
    /// signed by `verifier` (nil: signatures are not checked). `laterHeads` are heads stored
    /// while the entries were read (a running server's commits), smallest first: only one of
    /// exactly the entries read is compared, the others need not be in the ledger read.
    public mutating func finishTree(laterHeads: [SignedTreeHead] = [], verifier: NoteVerifier?, headsCapped: Bool = false, parallel: Bool = true) {
        let ledgerEnd = UInt64(max(0, self.previous.position))
        if self.treeFollowsLedger, let head = laterHeads.first(where: { $0.treeSize == self.fold.treeSize }) {
            self.compare(head, root: self.fold.rootHash)
        }
        self.reportOpenMismatch()
        self.reportBadTreeNodes()
        let beyond = self.treeHeads[self.nextTreeHead...].filter { $0.treeSize > ledgerEnd }
        if let first = beyond.first {
            let others = beyond.count == 1 ? "" : " (and \(beyond.count - 1) larger heads)"
            self.report(.treeMismatch, "the signed head of \(first.treeSize) entries\(others) covers more than the ledger's \(ledgerEnd) entries: entries were removed")
        }
        let covered = (self.treeHeads + laterHeads).map(\.treeSize).filter { $0 <= ledgerEnd }.max() ?? 0
        if !headsCapped, beyond.isEmpty, covered < ledgerEnd {
            self.report(.treeMismatch, "the tree's latest signed head covers \(covered) of \(ledgerEnd) entries")
        }
        if headsCapped {
            self.report(.treeMismatch, "more than \(Self.maximumTreeHeads) signed tree heads are stored: only the first \(Self.maximumTreeHeads) were checked")
        }
        guard let verifier else { return }
        let heads = self.treeHeads + laterHeads
        var signed = [Bool](repeating: false, count: heads.count)
        signed.withUnsafeMutableBufferPointer { signed in
            let output = SignatureResults(signed: signed)
            let work: @Sendable (Int) -> Void = { index in output.signed[index] = heads[index].isSigned(by: verifier) }
            if parallel {
                DispatchQueue.concurrentPerform(iterations: heads.count, execute: work)
            } else {
                for index in heads.indices { work(index) }
            }
        }
        let unsigned = heads.indices.filter { !signed[$0] }
        if let first = unsigned.first {
            let others = unsigned.count == 1 ? "" : " (nor do \(unsigned.count - 1) other heads)"
            self.report(.treeMismatch, "the signed head of \(heads[first].treeSize) entries does not carry the identity key's signature\(others)")
        }
    }

    /// The signature checks' output slots; each worker writes only its own index.
    private struct SignatureResults: @unchecked Sendable {
        let signed: UnsafeMutableBufferPointer<Bool>
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
    ///
    /// - Parameter identity: the deployment's identity public key, which must have signed every
    ///   stored tree head. Every caller that has the deployment's keys passes it; nil skips the
    ///   signature checks (the roots are still checked), for callers without a key (tests of
    ///   stores opened with a test signer).
    public static func run(
        store: any LedgerStore, seal: LedgerSeal, anchor: LedgerCheckpoint? = nil,
        isAuthentic: (LedgerCheckpoint) -> Bool = { _ in true }, identity: Curve25519.Signing.PublicKey? = nil,
        pageSize: Int = 20_000, executor: (any LedgerCheckExecutor)? = nil, progress: (Int64) -> Void = { _ in }
    ) async throws(LedgerError) -> LedgerVerifier {
        precondition(pageSize >= 1)
        let checkpoints = try await store.checkpoints()
        var verifier = LedgerVerifier(seal: seal, checkpointPositions: Set((checkpoints + (anchor.map { [$0] } ?? [])).map(\.position)))
        // Every head before any entry: entries and their head are committed together, so a head
        // read now covers only entries the reader will see.
        let (heads, headsCapped) = try await Self.treeHeads(store, after: 0, upTo: nil)
        verifier.expectTreeHeads(heads)
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
        // Heads a running server stored while the entries were read, up to the ledger read.
        let ledgerEnd = UInt64(max(0, verifier.previous.position))
        let laterHeads = headsCapped ? [] : try await Self.treeHeads(store, after: heads.last?.treeSize ?? 0, upTo: ledgerEnd).heads
        verifier.finishTree(
            laterHeads: laterHeads, verifier: identity.map { TreeHeadKey.verifier(identity: $0) }, headsCapped: headsCapped, parallel: executor == nil)
        verifier.check(checkpoints: checkpoints, anchor: anchor, isAuthentic: isAuthentic)
        verifier.check(accounts: try await store.sealedAccounts())
        verifier.check(users: try await store.sealedUsers())
        return verifier
    }
}

extension LedgerVerifier {
    /// Stored heads above `after`, smallest first, at most `maximumTreeHeads` (then `capped`), and
    /// none above `upTo` if given.
    private static func treeHeads(_ store: any LedgerStore, after: UInt64, upTo: UInt64?) async throws(LedgerError) -> (heads: [SignedTreeHead], capped: Bool) {
        var heads: [SignedTreeHead] = []
        var after = after
        while true {
            let page = try await store.treeHeads(afterTreeSize: after, limit: 10_000)
            for head in page {
                if let upTo, head.treeSize > upTo { return (heads, false) }
                guard heads.count < Self.maximumTreeHeads else { return (heads, true) }
                heads.append(head)
            }
            guard let last = page.last, last.treeSize > after else { return (heads, false) }
            after = last.treeSize
        }
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
