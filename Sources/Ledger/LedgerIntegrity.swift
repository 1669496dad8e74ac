/// An entry as stored, with the stored chain hash of the entry before it: enough to check that
/// the entry is this deployment's and that its content is what was sealed.
public struct EntryEvidence: Sendable {
    public let sealed: SealedEntry
    /// The stored chain hash of entry `position - 1` (the genesis hash for position 1); nil when
    /// that row is gone.
    public let previousChainHash: [UInt8]?

    public init(sealed: SealedEntry, previousChainHash: [UInt8]?) {
        self.sealed = sealed
        self.previousChainHash = previousChainHash
    }
}

/// An account row with its latest entry: enough to check that the balance is one Integra wrote
/// and that the ledger explains it.
public struct AccountEvidence: Sendable {
    public let userID: Int64
    public let username: String
    /// The user row's credential version (sessions that began at another one have ended).
    public let credentialVersion: Int64
    public let balanceCents: Int64
    public let mac: [UInt8]?
    /// The position of the account's latest entry as sender or recipient; nil when it has none.
    public let latestPosition: Int64?
    /// That entry; nil when there is none, or when it can't be read whole (its user rows gone).
    public let latestEntry: EntryEvidence?
    /// The highest entry position the store knows this account had (it committed or checked
    /// it): the account can't have less now. Nil when not known.
    public let knownLatestPosition: Int64?
    /// When no position was known: how many positions between the latest entry and the end of
    /// the ledger hold no entry (deleted entries, one of which may have been this account's).
    public let missingAfterLatest: Int64?
    /// The first position a full verification found no entry at (`VerifiedRowCache`).
    public let firstMissingPosition: Int64?

    public init(
        userID: Int64, username: String, credentialVersion: Int64 = 0, balanceCents: Int64, mac: [UInt8]?,
        latestPosition: Int64?, latestEntry: EntryEvidence?, knownLatestPosition: Int64? = nil, missingAfterLatest: Int64? = nil,
        firstMissingPosition: Int64? = nil
    ) {
        self.userID = userID
        self.username = username
        self.credentialVersion = credentialVersion
        self.balanceCents = balanceCents
        self.mac = mac
        self.latestPosition = latestPosition
        self.latestEntry = latestEntry
        self.knownLatestPosition = knownLatestPosition
        self.missingAfterLatest = missingAfterLatest
        self.firstMissingPosition = firstMissingPosition
    }
}

/// The checks the server runs on the rows it is about to spend, sign or show, one row at a time
/// (`LedgerVerifier` checks the whole ledger). Pure: the stores fetch the evidence.
///
/// An entry is genuine when its MAC (over position and chain hash) is this deployment's and its
/// chain hash is SHA-256 of the previous stored chain hash and the digest of its content: no one
/// without the storage key can make the MAC, and no one can find other content that hashes to a
/// sealed chain hash, whatever they put in the previous row.
public enum LedgerIntegrity {
    /// Nil when the entry is genuine; otherwise what is wrong with it.
    public static func check(_ evidence: EntryEvidence, seal: LedgerSeal) -> IntegrityViolation? {
        let entry = evidence.sealed.entry
        let position = entry.position
        guard let chainHash = evidence.sealed.chainHash, chainHash.count == LedgerSeal.hashByteCount,
              seal.isValid(evidence.sealed.mac, expected: seal.entryMAC(position: position, chainHash: chainHash))
        else {
            return IntegrityViolation(kind: .entryNotSealed, message: "entry \(position) does not carry this deployment's seal (inserted, moved or forged)")
        }
        let previous = position == 1 ? LedgerSeal.genesisHash : evidence.previousChainHash
        guard let previous, previous.count == LedgerSeal.hashByteCount else {
            return IntegrityViolation(kind: .entriesMissing, message: "entry \(position - 1) is missing (deleted)")
        }
        guard Self.isEncodable(entry), LedgerSeal.chainHash(previous: previous, entry: entry) == chainHash else {
            return IntegrityViolation(kind: .entryChanged, message: "content changed in entry \(position)")
        }
        return nil
    }

    /// Nil when the account's balance carries this deployment's seal and equals the balance its
    /// latest (genuine) entry left it with (zero for an account without entries).
    public static func check(_ evidence: AccountEvidence, seal: LedgerSeal) -> IntegrityViolation? {
        let account = "account \(evidence.userID) (\(evidence.username))"
        guard seal.isValid(evidence.mac, expected: seal.accountMAC(userID: evidence.userID, balanceCents: evidence.balanceCents)) else {
            return IntegrityViolation(kind: .balanceChanged, message: "balance of \(account) was changed outside Integra", userID: evidence.userID)
        }
        if let known = evidence.knownLatestPosition, (evidence.latestPosition ?? 0) < known {
            return IntegrityViolation(
                kind: .entriesMissing,
                message: "\(account) had an entry at position \(known) that is gone (deleted), and its row is older (restored)", userID: evidence.userID)
        }
        if let missing = evidence.firstMissingPosition, (evidence.latestPosition ?? 0) < missing {
            // The entry is gone or names no one: it may have been this account's, and the row
            // may be from before it.
            return IntegrityViolation(
                kind: .entriesMissing,
                message: "entry \(missing) is missing from the ledger and may have been \(account)'s, whose latest entry comes before it", userID: evidence.userID)
        }
        if let missing = evidence.missingAfterLatest, missing > 0 {
            return IntegrityViolation(
                kind: .entriesMissing,
                message: "\(missing) entries after entry \(evidence.latestPosition ?? 0), the latest of \(account), are gone (deleted)", userID: evidence.userID)
        }
        if let position = evidence.latestPosition, evidence.latestEntry == nil {
            return IntegrityViolation(kind: .entryChanged, message: "entry \(position) of \(account) names users that no longer exist")
        }
        guard let latest = evidence.latestEntry else {
            guard evidence.balanceCents == 0 else {
                return IntegrityViolation(kind: .balanceMismatch, message: "\(account) holds \(Amount.format(cents: evidence.balanceCents)) but has no entries", userID: evidence.userID)
            }
            return nil
        }
        if let violation = Self.check(latest, seal: seal) { return violation }
        let entry = latest.sealed.entry
        let expected: Int64
        if entry.fromUserID == evidence.userID {
            expected = entry.fromBalanceAfterCents
        } else if entry.toUserID == evidence.userID {
            expected = entry.toBalanceAfterCents
        } else {
            return IntegrityViolation(kind: .balanceMismatch, message: "\(account): its latest entry \(entry.position) belongs to other accounts", userID: evidence.userID)
        }
        guard expected == evidence.balanceCents else {
            return IntegrityViolation(
                kind: .balanceMismatch,
                message: "\(account) holds \(Amount.format(cents: evidence.balanceCents)) but its latest entry \(entry.position) left it with \(Amount.format(cents: expected))",
                userID: evidence.userID)
        }
        return nil
    }

    /// Nil when the user row carries this deployment's seal, its keys and kind follow from what
    /// the seal covers, and it is at the credential version the ledger last recorded for it (0
    /// when the ledger records no password change).
    public static func check(_ user: SealedUser, latestCredentialVersion: Int64, seal: LedgerSeal) -> IntegrityViolation? {
        let expected = seal.userMAC(userID: user.id, username: user.username, passwordHash: user.passwordHash, credentialVersion: user.credentialVersion)
        guard seal.isValid(user.mac, expected: expected) else {
            return IntegrityViolation(kind: .userChanged, message: "user \(user.id) (\(user.username)): name or password hash was changed outside Integra", userID: user.id)
        }
        if let violation = Self.checkKeys(user.keys, userID: user.id, username: user.username) { return violation }
        guard user.credentialVersion == latestCredentialVersion else {
            return IntegrityViolation(
                kind: .userRolledBack,
                message: "user \(user.id) (\(user.username)) is at credential version \(user.credentialVersion) but the ledger records version \(latestCredentialVersion): an older copy of the row was restored",
                userID: user.id)
        }
        return nil
    }

    /// Nil when a user row's lookup name, skeleton and kind are what its sealed name and id make
    /// them: a row found by a key that is not its own (a database writer moved the key to another
    /// row, so that payments or logins for one name reach another account) is refused. A key may
    /// be missing (an earlier account holds it); `LedgerVerifier` checks that someone does.
    public static func checkKeys(_ keys: UserKeys, userID: Int64, username: String) -> IntegrityViolation? {
        let expectedKind = userID == SystemAccount.userID ? UserKeys.systemKind : UserKeys.customerKind
        guard keys.kind == expectedKind else {
            return IntegrityViolation(kind: .userChanged, message: "user \(userID) (\(username)): its kind was changed outside Integra", userID: userID)
        }
        let derived = Username.keys(forStoredName: username)
        guard keys.lookupName == nil || keys.lookupName == derived.lookupForm, keys.skeleton == nil || keys.skeleton == derived.skeleton else {
            return IntegrityViolation(
                kind: .userChanged, message: "user \(userID) (\(username)): the name it is looked up by was changed outside Integra", userID: userID)
        }
        return nil
    }

    /// Whether the entry's strings fit the canonical encoding (only a tampered row has longer ones).
    static func isEncodable(_ entry: LedgerEntry) -> Bool {
        let limit = LedgerSeal.maximumFieldBytes
        return entry.transferID.value.utf8.count <= limit && entry.from.canonical.utf8.count <= limit && entry.to.canonical.utf8.count <= limit
    }
}

extension LedgerIntegrity {
    /// A position in the ledger with the chain hash there.
    public struct ChainPoint: Hashable, Sendable {
        public let position: Int64
        public let chainHash: [UInt8]

        public init(position: Int64, chainHash: [UInt8]) {
            self.position = position
            self.chainHash = chainHash
        }

        /// Before the first entry.
        public static let genesis = ChainPoint(position: 0, chainHash: LedgerSeal.genesisHash)
    }

    /// Checks that `entries` extend the chain from `start`, a point already verified, one
    /// contiguous genuine entry after another, and arrive at `head` when it is given. Returns the
    /// new verified point, or what is wrong.
    public static func extend(
        from start: ChainPoint, with entries: some Sequence<SealedEntry>, to head: ChainPoint? = nil, seal: LedgerSeal
    ) -> Result<ChainPoint, IntegrityViolation> {
        var point = start
        for sealed in entries {
            let position = sealed.entry.position
            guard position == point.position + 1 else {
                if position <= point.position {
                    return .failure(IntegrityViolation(kind: .historyRewritten, message: "entry \(position) appears again after entry \(point.position)"))
                }
                return .failure(IntegrityViolation(kind: .entriesMissing, message: "entries \(point.position + 1) to \(position - 1) are missing (deleted)"))
            }
            // Linking to the verified hash, not the stored previous row, also catches a previous
            // row whose chain hash was changed after it was verified.
            if let violation = Self.check(EntryEvidence(sealed: sealed, previousChainHash: point.chainHash), seal: seal) {
                return .failure(violation)
            }
            point = ChainPoint(position: position, chainHash: sealed.chainHash ?? [])
        }
        if let head {
            guard head.position >= point.position else {
                return .failure(IntegrityViolation(kind: .ledgerRolledBack, message: "the ledger ends at entry \(head.position) but entry \(point.position) was committed"))
            }
            guard head == point else {
                return .failure(IntegrityViolation(
                    kind: head.position == point.position ? .historyRewritten : .entriesMissing,
                    message: head.position == point.position
                        ? "the ledger's head no longer has the chain hash of entry \(head.position)"
                        : "entries \(point.position + 1) to \(head.position) could not be read"))
            }
        }
        return .success(point)
    }

    /// Compares the head a store reads now with the last point it verified: nil when they are
    /// the same, the kind of rollback or rewrite otherwise. A head further on needs `extend`.
    public static func compare(head: ChainPoint, verified: ChainPoint) -> IntegrityViolation? {
        if head.position < verified.position {
            return IntegrityViolation(
                kind: .ledgerRolledBack,
                message: "the ledger ends at entry \(head.position) but entry \(verified.position) was already committed: entries were removed or an older copy of the database was restored")
        }
        if head.position == verified.position && head.chainHash != verified.chainHash {
            return IntegrityViolation(kind: .historyRewritten, message: "entry \(head.position) no longer has the chain hash it was committed with")
        }
        return nil
    }

    /// Checks the head a store's writer reads inside its transaction against the head it last
    /// committed or verified (`verified`): nil when they are the same, or when the head extends it
    /// with genuine, contiguous entries (written by another process), read with `entries(after,
    /// through)`; otherwise the rollback or rewrite found. With nothing verified yet (the first
    /// append of a process) the head entry itself must be genuine: `headEntry` reads it.
    public static func checkHead<Failure: Error>(
        _ head: ChainPoint, verified: ChainPoint?, seal: LedgerSeal,
        headEntry: (Int64) throws(Failure) -> EntryEvidence?,
        entries: (_ after: Int64, _ through: Int64) throws(Failure) -> [SealedEntry]
    ) throws(Failure) -> IntegrityViolation? {
        guard let verified else {
            guard head.position > 0 else { return nil }
            guard let evidence = try headEntry(head.position) else {
                return IntegrityViolation(kind: .entryChanged, message: "entry \(head.position) names users that no longer exist")
            }
            if let violation = Self.check(evidence, seal: seal) { return violation }
            guard evidence.sealed.chainHash == head.chainHash else {
                return IntegrityViolation(kind: .historyRewritten, message: "the ledger's head no longer has the chain hash of entry \(head.position)")
            }
            // Nothing may follow the head.
            let after = try entries(head.position, Int64.max)
            return after.isEmpty ? nil : IntegrityViolation(kind: .historyRewritten, message: "entries follow the ledger's recorded head \(head.position)")
        }
        if head == verified { return nil }
        if let violation = Self.compare(head: head, verified: verified) { return violation }
        var point = verified
        while point.position < head.position {
            let next = try entries(point.position, head.position)
            guard !next.isEmpty else { break }
            switch Self.extend(from: point, with: next, seal: seal) {
            case .success(let extended): point = extended
            case .failure(let violation): return violation
            }
        }
        if case .failure(let violation) = Self.extend(from: point, with: [], to: head, seal: seal) { return violation }
        return nil
    }
}
