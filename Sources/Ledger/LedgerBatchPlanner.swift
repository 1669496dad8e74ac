/// The ledger rules for one group commit, as a pure computation.
///
/// A store loads the `Snapshot` of everything the batch touches (inside its transaction, with the
/// rows locked where the store needs it), asks the planner what to write, writes it, and commits.
/// Requests are applied in order, so the result is the same as applying them one at a time.
public struct LedgerBatchPlanner {
    /// An account as the planner sees it.
    public struct Account: Hashable, Sendable {
        public let userID: Int64
        public let username: Username
        public var balanceCents: Int64
        /// Customers can send and receive; the system account only funds deposits.
        public let isCustomer: Bool
        /// The user row's credential version (password changes so far).
        public var credentialVersion: Int64

        public init(userID: Int64, username: Username, balanceCents: Int64, isCustomer: Bool, credentialVersion: Int64 = 0) {
            self.userID = userID
            self.username = username
            self.balanceCents = balanceCents
            self.isCustomer = isCustomer
            self.credentialVersion = credentialVersion
        }
    }

    /// Identifies a transfer for idempotency: ids are chosen by, and unique per, the sender.
    public struct TransferKey: Hashable, Sendable {
        public let senderID: Int64
        public let transferID: TransferID

        public init(senderID: Int64, transferID: TransferID) {
            self.senderID = senderID
            self.transferID = transferID
        }
    }

    /// Everything the batch reads, loaded by the store.
    public struct Snapshot: Sendable {
        /// Accounts of every sender and every recipient named in the batch that exists.
        public var accountsByName: [Username: Account]
        /// Entries already committed under the keys the batch uses.
        public var existingEntries: [TransferKey: LedgerEntry]
        /// The position the next entry gets.
        public var nextPosition: Int64
        /// The chain hash of the last committed entry (`LedgerSeal.genesisHash` for none).
        public var headHash: [UInt8]
        /// Chain hashes of the existing entries, by position (for their receipts).
        public var chainHashes: [Int64: [UInt8]]
        /// Accounts whose rows failed their integrity check: nothing moves to or from them.
        public var quarantined: [Username: IntegrityViolation]
        /// Existing entries that failed their integrity check: no receipt is signed for them.
        public var brokenEntries: [TransferKey: IntegrityViolation]
        /// What is wrong with the ledger's head, if anything: then nothing is appended.
        public var headViolation: IntegrityViolation?

        public init(
            accountsByName: [Username: Account], existingEntries: [TransferKey: LedgerEntry], nextPosition: Int64,
            headHash: [UInt8] = LedgerSeal.genesisHash, chainHashes: [Int64: [UInt8]] = [:],
            quarantined: [Username: IntegrityViolation] = [:], brokenEntries: [TransferKey: IntegrityViolation] = [:],
            headViolation: IntegrityViolation? = nil
        ) {
            precondition(nextPosition >= 1 && headHash.count == 32)
            self.accountsByName = accountsByName
            self.existingEntries = existingEntries
            self.chainHashes = chainHashes
            self.nextPosition = nextPosition
            self.headHash = headHash
            self.quarantined = quarantined
            self.brokenEntries = brokenEntries
            self.headViolation = headViolation
        }
    }

    /// What the store must write: new entries in position order and the new balances.
    public struct Plan: Sendable {
        public var newEntries: [LedgerEntry] = []
        /// The chain hash of each new entry, aligned with `newEntries`; the last one is the new head.
        public var chainHashes: [[UInt8]] = []
        /// The final balance of every account the batch changed, by user id.
        public var changedBalances: [Int64: Int64] = [:]
        /// New password hashes and credential versions to write, in order.
        public var credentialUpdates: [CredentialUpdate] = []
        /// One outcome per planned request, in the order given.
        public var outcomes: [WriteOutcome] = []
    }

    /// A user row's new password hash and credential version (sealed together by the store).
    public struct CredentialUpdate: Hashable, Sendable {
        public let userID: Int64
        public let username: Username
        public let passwordHash: String
        public let credentialVersion: Int64
    }

    /// An append to the ledger to plan: a money movement or a password change.
    public enum Movement: Hashable, Sendable {
        case transfer(TransferIntent)
        case deposit(DepositIntent)
        case credentialChange(userID: Int64, username: Username, passwordHash: String)
    }

    /// What a store must load (and, where it locks, lock) before planning `movements`: the
    /// accounts of every sender and recipient, in a fixed order, and the idempotency keys.
    public struct Reads: Sendable {
        public let usernames: [Username]
        public let transferKeys: [TransferKey]
    }

    public static func reads(for movements: [Movement]) -> Reads {
        var names = Set<Username>()
        var keys: [TransferKey] = []
        for movement in movements {
            switch movement {
            case .transfer(let intent):
                names.insert(intent.sender)
                names.insert(intent.recipient)
                keys.append(TransferKey(senderID: intent.senderID, transferID: intent.transferID))
            case .deposit(let intent):
                names.insert(SystemAccount.username)
                names.insert(intent.recipient)
                keys.append(TransferKey(senderID: SystemAccount.userID, transferID: intent.transferID))
            case .credentialChange(_, let username, _):
                names.insert(username)
            }
        }
        return Reads(usernames: names.sorted { $0.canonical < $1.canonical }, transferKeys: keys)
    }

    /// Which requests of a batch may be applied: those without a nonce, and the first request
    /// carrying each nonce that the store had not seen before. The others are replays.
    public static func admitted(_ requests: [WriteRequest], freshNonces: Set<[UInt8]>) -> [Bool] {
        var claimed = Set<[UInt8]>()
        return requests.map { request in
            guard let nonce = request.nonce else { return true }
            return freshNonces.contains(nonce.bytes) && claimed.insert(nonce.bytes).inserted
        }
    }

    /// The outcomes of a batch, in request order: replays are refused, a bare nonce is recorded,
    /// new users go to `applyAccountChange` one at a time in order, and all appends to the ledger
    /// (money movements and password changes) go to `applyMovements` together (the store loads
    /// their snapshot, plans and writes them), which returns one outcome per movement.
    public static func outcomes<Failure: Error>(
        of requests: [WriteRequest], freshNonces: Set<[UInt8]>,
        applyAccountChange: (WriteOperation) throws(Failure) -> WriteOutcome,
        applyMovements: ([Movement]) throws(Failure) -> [WriteOutcome]
    ) throws(Failure) -> [WriteOutcome] {
        let admitted = Self.admitted(requests, freshNonces: freshNonces)
        var outcomes = [WriteOutcome?](repeating: nil, count: requests.count)
        var movements: [(index: Int, movement: Movement)] = []
        for (index, request) in requests.enumerated() {
            guard admitted[index] else {
                outcomes[index] = .rejected(.replayedNonce)
                continue
            }
            switch request.operation {
            case .recordNonce:
                outcomes[index] = .nonceRecorded
            case .createUser, .rehashPassword:
                outcomes[index] = try applyAccountChange(request.operation)
            case .changePassword(let userID, let username, let passwordHash):
                movements.append((index, .credentialChange(userID: userID, username: username, passwordHash: passwordHash)))
            case .transfer(let intent):
                movements.append((index, .transfer(intent)))
            case .deposit(let intent):
                movements.append((index, .deposit(intent)))
            }
        }
        if !movements.isEmpty {
            let planned = try applyMovements(movements.map(\.movement))
            precondition(planned.count == movements.count, "one outcome per movement")
            for (item, outcome) in zip(movements, planned) {
                outcomes[item.index] = outcome
            }
        }
        return outcomes.map { $0! }
    }

    private var snapshot: Snapshot
    private var plan = Plan()
    private let nowMs: Int64

    private init(snapshot: Snapshot, nowMs: Int64) {
        self.snapshot = snapshot
        self.nowMs = nowMs
    }

    /// Applies the movements in order to the snapshot and returns what to write.
    public static func plan(_ movements: [Movement], snapshot: Snapshot, nowMs: Int64) -> Plan {
        var planner = LedgerBatchPlanner(snapshot: snapshot, nowMs: nowMs)
        for movement in movements {
            let outcome: WriteOutcome
            switch movement {
            case .transfer(let intent):
                if let expected = intent.senderCredentialVersion, let sender = planner.snapshot.accountsByName[intent.sender],
                   sender.userID == intent.senderID, sender.credentialVersion != expected {
                    outcome = .rejected(.sessionEnded)
                } else {
                    outcome = planner.apply(
                        key: TransferKey(senderID: intent.senderID, transferID: intent.transferID),
                        kind: .transfer, from: intent.sender, to: intent.recipient, amount: intent.amount)
                }
            case .deposit(let intent):
                outcome = planner.apply(
                    key: TransferKey(senderID: SystemAccount.userID, transferID: intent.transferID),
                    kind: .deposit, from: SystemAccount.username, to: intent.recipient, amount: intent.amount)
            case .credentialChange(let userID, let username, let passwordHash):
                outcome = planner.changeCredential(userID: userID, username: username, passwordHash: passwordHash)
            }
            planner.plan.outcomes.append(outcome)
        }
        return planner.plan
    }

    private mutating func apply(key: TransferKey, kind: EntryKind, from: Username, to: Username, amount: Amount) -> WriteOutcome {
        if let violation = self.snapshot.headViolation ?? self.snapshot.brokenEntries[key]
            ?? self.snapshot.quarantined[from] ?? self.snapshot.quarantined[to] {
            return .rejected(.integrityAlarm(violation))
        }
        if let existing = self.snapshot.existingEntries[key] {
            // By user id: a name stored under earlier rules is looked up by another form.
            let sameContent = existing.toUserID == self.snapshot.accountsByName[to]?.userID && existing.amount == amount && existing.kind == kind
            let chainHash = self.snapshot.chainHashes[existing.position] ?? []
            return sameContent ? .transferred(TransferReceipt(entry: existing, isRetry: true, chainHash: chainHash)) : .rejected(.transferIDConflict)
        }
        guard var sender = self.snapshot.accountsByName[from], sender.userID == key.senderID else {
            return .rejected(.unknownUser)
        }
        // Funds first: an amount the sender can't pay tells nothing about whether the name exists.
        if sender.isCustomer {
            guard sender.balanceCents >= amount.cents else { return .rejected(.insufficientFunds) }
        }
        guard var recipient = self.snapshot.accountsByName[to], recipient.isCustomer else {
            return .rejected(.unknownRecipient)
        }
        guard recipient.userID != sender.userID else { return .rejected(.selfTransfer) }
        let (newRecipientBalance, recipientOverflow) = recipient.balanceCents.addingReportingOverflow(amount.cents)
        let (newSenderBalance, senderOverflow) = sender.balanceCents.subtractingReportingOverflow(amount.cents)
        guard !recipientOverflow, !senderOverflow else { return .rejected(.balanceOverflow) }
        sender.balanceCents = newSenderBalance
        recipient.balanceCents = newRecipientBalance
        self.snapshot.accountsByName[from] = sender
        self.snapshot.accountsByName[to] = recipient
        self.plan.changedBalances[sender.userID] = newSenderBalance
        self.plan.changedBalances[recipient.userID] = newRecipientBalance

        let entry = LedgerEntry(
            position: self.snapshot.nextPosition, kind: kind, transferID: key.transferID,
            fromUserID: sender.userID, from: sender.username, toUserID: recipient.userID, to: recipient.username,
            amount: amount, fromBalanceAfterCents: newSenderBalance, toBalanceAfterCents: newRecipientBalance,
            createdAtMs: self.nowMs)
        self.snapshot.existingEntries[key] = entry
        let chainHash = self.append(entry)
        return .transferred(TransferReceipt(entry: entry, isRetry: false, chainHash: chainHash))
    }

    /// A password change: the next credential version, recorded as an entry that moves no money.
    private mutating func changeCredential(userID: Int64, username: Username, passwordHash: String) -> WriteOutcome {
        if let violation = self.snapshot.headViolation ?? self.snapshot.quarantined[username] {
            return .rejected(.integrityAlarm(violation))
        }
        guard var account = self.snapshot.accountsByName[username], account.userID == userID, account.isCustomer else {
            return .rejected(.unknownUser)
        }
        account.credentialVersion += 1
        self.snapshot.accountsByName[username] = account
        let entry = LedgerEntry(
            position: self.snapshot.nextPosition, kind: .credentialChange,
            transferID: CredentialEntry.transferID(version: account.credentialVersion),
            fromUserID: userID, from: account.username, toUserID: userID, to: account.username, amount: .zero,
            fromBalanceAfterCents: account.balanceCents, toBalanceAfterCents: account.balanceCents, createdAtMs: self.nowMs)
        _ = self.append(entry)
        self.plan.credentialUpdates.append(CredentialUpdate(
            userID: userID, username: account.username, passwordHash: passwordHash, credentialVersion: account.credentialVersion))
        return .passwordChanged
    }

    /// Appends a planned entry to the chain; returns its chain hash.
    private mutating func append(_ entry: LedgerEntry) -> [UInt8] {
        precondition(entry.position == self.snapshot.nextPosition)
        self.snapshot.nextPosition += 1
        self.snapshot.headHash = LedgerSeal.chainHash(previous: self.snapshot.headHash, entry: entry)
        self.plan.newEntries.append(entry)
        self.plan.chainHashes.append(self.snapshot.headHash)
        self.snapshot.chainHashes[entry.position] = self.snapshot.headHash
        return self.snapshot.headHash
    }
}
