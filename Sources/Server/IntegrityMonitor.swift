public import Crypto
public import IntegraLedger
import IntegraTransparency
import IntegraVerifier
public import IntegraProtocol
public import Logging

/// Keeps the server's verified head and signs only what it verified.
///
/// At start it checks the ledger against the anchor outside the database (`checkpoint.json`): a
/// ledger that ends before it or no longer has its chain hash, or an anchor that is missing or
/// unreadable, raises an alarm. From the anchor on it verifies every new entry as it lands (seal,
/// chain link, contiguity), so checkpoints and proofs are signed over verified chain hashes only,
/// at a cost of the new entries, not the whole ledger. On a schedule it verifies the whole ledger
/// on an idle-priority thread. Every finding becomes an alarm (`IntegrityAlarms`); while one is
/// open nothing is signed. An anchor moves forward only after the chain hash at the old anchor's
/// position is found unchanged.
public actor IntegrityMonitor {
    /// How often the monitor looks.
    public struct Schedule: Sendable {
        /// New entries are verified, and alarms re-read, this often.
        public var checkIntervalMs: Int64 = 1_000
        /// The verified head is signed (a checkpoint) this often when it moved.
        public var checkpointIntervalMs: Int64 = 10_000
        /// The whole ledger is verified this often (nil: never, only `integra-server verify`).
        public var fullVerifyIntervalMs: Int64? = 86_400_000

        public init() {}
    }

    /// What the last full verification found, for operators.
    public struct FullVerification: Sendable {
        public let finishedAtMs: Int64
        public let entriesChecked: Int64
        public let violations: Int
        public let seconds: Double
    }

    private let store: any LedgerStore
    private let seal: LedgerSeal
    private let checkpointer: Checkpointer
    private let identity: Curve25519.Signing.PublicKey
    /// Checks the tree heads the identity key signs.
    private let treeHeadVerifier: NoteVerifier
    public nonisolated let alarms: IntegrityAlarms
    /// The newest head the witnesses cosigned (filled by the deployment's `WitnessPusher`).
    public nonisolated let witnessed = WitnessedHead()
    private let schedule: Schedule
    private let worker: IdleWorker
    private let clock: WallClock
    private let logger: Logger

    /// The last point of the chain verified entry by entry; nil while it can't be established (a
    /// rollback or a broken anchor, until an operator acknowledges the alarm).
    public private(set) var verified: LedgerIntegrity.ChainPoint?
    /// The anchor in the data directory, as last written or read.
    public private(set) var anchor: LedgerCheckpoint?
    /// Set when an operator acknowledged an alarm about the ledger's history: the next anchor
    /// may replace the old one without the old one's position being checked.
    private var anchorResetAllowed = false
    private var acknowledgedCount = 0
    public private(set) var lastFullVerification: FullVerification?
    /// Entries the running full verification has checked, if one runs.
    public private(set) var fullVerificationProgress: Int64?

    public init(
        store: any LedgerStore, seal: LedgerSeal, identityKey: Curve25519.Signing.PrivateKey, dataDirectory: String,
        alarms: IntegrityAlarms, schedule: Schedule = Schedule(), clock: WallClock, logger: Logger
    ) {
        self.store = store
        self.seal = seal
        self.checkpointer = Checkpointer(identityKey: identityKey, dataDirectory: dataDirectory)
        self.identity = identityKey.publicKey
        self.treeHeadVerifier = TreeHeadKey.verifier(identity: identityKey.publicKey)
        self.alarms = alarms
        self.schedule = schedule
        self.worker = IdleWorker()
        self.clock = clock
        self.logger = logger
        self.dataDirectory = dataDirectory
    }

    private let dataDirectory: String

    /// Checks the ledger against the anchor and establishes the verified head.
    public func start() async {
        self.acknowledgedCount = self.alarms.all.count { !$0.isOpen }
        switch Checkpointer.loadAnchor(dataDirectory: self.dataDirectory) {
        case .unreadable(let reason):
            await self.raise(IntegrityViolation(kind: .anchorUnreadable, message: reason))
        case .absent:
            let signed = (try? await self.store.checkpoints()) ?? []
            if let last = signed.last {
                await self.raise(IntegrityViolation(
                    kind: .anchorUnreadable,
                    message: "\(Checkpointer.anchorFileName) is missing but the database holds \(signed.count) signed checkpoints up to entry \(last.position)"))
            } else {
                self.verified = .genesis
            }
        case .present(let anchor):
            await self.establish(from: anchor)
        }
        await self.advance()
        // The database may have been changed while the server was stopped, before the anchor as
        // well as after it: the whole ledger is verified before the server serves, at full speed,
        // and every account's latest entry is remembered, so a later read of an account whose
        // latest entry was deleted or changed (to name someone else) raises the alarm.
        await self.verifyAll(beforeServing: true)
    }

    private func establish(from anchor: LedgerCheckpoint) async {
        guard Checkpointer.isAuthentic(anchor, identity: self.identity) else {
            await self.raise(IntegrityViolation(kind: .checkpointInvalid, message: "\(Checkpointer.anchorFileName) is not signed by this server"))
            return
        }
        self.anchor = anchor
        guard anchor.position > 0 else {
            self.verified = .genesis
            return
        }
        do {
            if let violation = try await Checkpointer.violation(of: anchor, in: self.store) {
                await self.raise(violation)
                return
            }
            self.verified = LedgerIntegrity.ChainPoint(position: anchor.position, chainHash: anchor.chainHash)
        } catch {
            self.logger.warning("cannot read the ledger to check the anchor; retrying", metadata: ["error": "\(error)"])
        }
    }

    /// Verifies the entries committed since the verified head; returns the verified head.
    @discardableResult
    public func advance() async -> LedgerIntegrity.ChainPoint? {
        guard let start = self.verified else { return nil }
        do {
            let head = try await self.store.head()
            let current = LedgerIntegrity.ChainPoint(position: head.position, chainHash: head.position == 0 ? LedgerSeal.genesisHash : head.chainHash)
            if let violation = LedgerIntegrity.compare(head: current, verified: start) {
                await self.raise(violation)
                return nil
            }
            var point = start
            while point.position < current.position {
                let entries = try await self.store.sealedEntries(afterPosition: point.position, limit: 10_000)
                guard !entries.isEmpty else { break }
                switch LedgerIntegrity.extend(from: point, with: entries.prefix { $0.entry.position <= current.position }, seal: self.seal) {
                case .success(let next):
                    point = next
                    self.verified = next
                case .failure(let violation):
                    await self.raise(violation)
                    return nil
                }
                if entries.last!.entry.position >= current.position { break }
            }
            if case .failure(let violation) = LedgerIntegrity.extend(from: point, with: [], to: current, seal: self.seal) {
                await self.raise(violation)
                return nil
            }
            return point
        } catch {
            if !Task.isCancelled {
                self.logger.warning("cannot read new ledger entries to verify them", metadata: ["error": "\(error)"])
            }
            return self.verified
        }
    }

    /// Signs the verified head if it moved past the anchor (and no alarm is open), stores the
    /// checkpoint and moves the anchor forward.
    @discardableResult
    public func checkpoint() async -> LedgerCheckpoint? {
        guard !self.alarms.isRaised, let point = await self.advance(), !self.alarms.isRaised else { return nil }
        if self.anchorResetAllowed {
            // After an acknowledged rollback the anchor is replaced by the ledger as it is now.
            guard point.position > 0, point.position != self.anchor?.position || point.chainHash != self.anchor?.chainHash else { return nil }
        } else {
            guard point.position > (self.anchor?.position ?? 0) else { return nil }
        }
        do {
            if let anchor = self.anchor, anchor.position > 0, !self.anchorResetAllowed {
                // The anchor only moves forward over the history it signed.
                guard let entry = try await self.store.entry(at: anchor.position), entry.sealed.chainHash == anchor.chainHash else {
                    await self.raise(IntegrityViolation(kind: .historyRewritten, message: "entry \(anchor.position) no longer has the chain hash its checkpoint signed: history was rewritten"))
                    return nil
                }
            }
            let checkpoint = try self.checkpointer.sign(point, nowMs: self.clock.nowMs())
            try await self.store.recordCheckpoint(checkpoint)
            try self.checkpointer.writeAnchor(checkpoint)
            self.anchor = checkpoint
            self.anchorResetAllowed = false
            return checkpoint
        } catch {
            self.logger.warning("checkpoint failed", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// A proof that the entry at `position` is in the ledger, over verified hashes only; only
    /// for an entry that `partyUserID` sent or received (others are "not found").
    public func proof(position: UInt64, partyUserID: Int64?) async throws -> InclusionProof {
        guard !self.alarms.isRaised else { throw LedgerError.alarmRaised }
        guard let point = await self.advance() else { throw LedgerError.alarmRaised }
        do {
            return try await self.checkpointer.proof(
                position: position, store: self.store, seal: self.seal, verified: point, partyUserID: partyUserID, nowMs: self.clock.nowMs())
        } catch LedgerError.integrityAlarm(let violation) {
            await self.raise(violation)
            throw LedgerError.alarmRaised
        }
    }

    /// The latest signed tree head with the inclusion proof of an entry the customer is party
    /// to and the consistency proof from a size they saw (`TreeProver`); nothing while an alarm
    /// is open.
    public func treeProofs(position: UInt64?, fromTreeSize: UInt64?, partyUserID: Int64?) async throws -> TreeProofs {
        guard !self.alarms.isRaised else { throw LedgerError.alarmRaised }
        guard let point = await self.advance() else { throw LedgerError.alarmRaised }
        do {
            return try await TreeProver.proofs(
                position: position, fromTreeSize: fromTreeSize, partyUserID: partyUserID, store: self.store, seal: self.seal,
                verifier: self.treeHeadVerifier, verified: point, witnessed: self.witnessed.latest)
        } catch LedgerError.integrityAlarm(let violation) {
            await self.raise(violation)
            throw LedgerError.alarmRaised
        }
    }

    /// Raises an alarm for a finding; the verified head can no longer be trusted when the
    /// finding is about the ledger's history.
    public func raise(_ violation: IntegrityViolation) async {
        switch violation.kind {
        case .ledgerRolledBack, .historyRewritten, .entriesMissing, .entryChanged, .entryNotSealed, .anchorUnreadable, .checkpointInvalid, .treeMismatch:
            self.verified = nil
        case .balanceChanged, .balanceMismatch, .userChanged, .userRolledBack:
            break
        }
        await self.alarms.raise(violation, nowMs: self.clock.nowMs())
    }

    /// Re-reads the alarms; after an acknowledgement, everything is checked again from scratch
    /// (rows, head) and a verified head that was lost is re-established from the first entry.
    public func refreshAlarms() async {
        try? await self.alarms.refresh()
        let acknowledged = self.alarms.all.count { !$0.isOpen }
        guard acknowledged != self.acknowledgedCount else { return }
        self.acknowledgedCount = acknowledged
        await self.store.forgetVerifiedRows()
        if self.verified == nil && !self.alarms.isRaised {
            self.logger.notice("alarms acknowledged: verifying the ledger again from its first entry; the next checkpoint replaces the anchor")
            self.verified = .genesis
            self.anchorResetAllowed = true
        }
    }

    /// Verifies the whole ledger, on the idle-priority thread unless `beforeServing` (then on all
    /// cores: nothing else runs yet); every finding becomes an alarm, and the store remembers each
    /// account's latest entry.
    public func verifyAll(beforeServing: Bool = false) async {
        let started = ContinuousClock.now
        self.fullVerificationProgress = 0
        defer { self.fullVerificationProgress = nil }
        do {
            let anchor: LedgerCheckpoint?
            if case .present(let present) = Checkpointer.loadAnchor(dataDirectory: self.dataDirectory) { anchor = present } else { anchor = nil }
            let identity = self.identity
            // Before serving, `start()` has just checked the anchor against the ledger and raised
            // what it found; the full verification checks the checkpoints in the database.
            let verifier = try await LedgerVerifier.run(
                store: self.store, seal: self.seal, anchor: beforeServing ? nil : anchor, isAuthentic: { Checkpointer.isAuthentic($0, identity: identity) },
                identity: identity, executor: beforeServing ? nil : self.worker)
            await self.store.rememberVerified(latestPositions: verifier.latestPositions, firstMissingPosition: verifier.firstMissingPosition)
            let findings = try await Self.confirmed(verifier.violations, store: self.store, seal: self.seal)
            for violation in findings { await self.raise(violation) }
            let elapsed = ContinuousClock.now - started
            self.lastFullVerification = FullVerification(
                finishedAtMs: self.clock.nowMs(), entriesChecked: verifier.entriesChecked, violations: findings.count,
                seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            self.logger.notice("ledger verified", metadata: ["entries": "\(verifier.entriesChecked)", "violations": "\(findings.count)"])
        } catch {
            self.logger.warning("full verification failed to read the ledger", metadata: ["error": "\(error)"])
        }
    }

    /// The background verifier's schedule (`BackgroundVerifier`), until cancelled: every
    /// `checkIntervalMs` the alarms are re-read and the new entries verified, every
    /// `fullVerifyIntervalMs` the whole ledger. Then the idle-priority thread is shut down.
    public func verifyPeriodically() async {
        var sinceFullVerifyMs: Int64 = 0
        while (try? await Task.sleep(for: .milliseconds(self.schedule.checkIntervalMs))) != nil {
            sinceFullVerifyMs += self.schedule.checkIntervalMs
            await self.refreshAlarms()
            await self.advance()
            if let interval = self.schedule.fullVerifyIntervalMs, sinceFullVerifyMs >= interval {
                sinceFullVerifyMs = 0
                await self.verifyAll()
            }
        }
        await self.worker.shutdown()
    }

    /// The checkpointer's schedule (`PeriodicCheckpointer`), until cancelled: every
    /// `checkpointIntervalMs` the verified head is signed if it moved.
    public func checkpointPeriodically() async {
        while (try? await Task.sleep(for: .milliseconds(self.schedule.checkpointIntervalMs))) != nil {
            await self.checkpoint()
        }
    }
}

extension IntegrityMonitor {
    /// A full verification reads the entries first and the account and user rows after them, so
    /// a commit that lands in between looks like a balance or a credential version the entries
    /// don't explain. Each such finding is checked again alone, in one snapshot of the store
    /// (`LedgerIntegrity`), and kept only if it still holds. Findings about entries, the chain and
    /// checkpoints can't come from a commit and are kept as they are.
    public static func confirmed(_ violations: [IntegrityViolation], store: any LedgerStore, seal: LedgerSeal) async throws -> [IntegrityViolation] {
        var users: [Int64: String]? = nil
        var kept: [IntegrityViolation] = []
        for violation in violations {
            switch violation.kind {
            case .balanceChanged, .balanceMismatch:
                guard let userID = violation.userID, let account = try await store.account(ofUserID: userID) else {
                    kept.append(violation)
                    continue
                }
                if LedgerIntegrity.check(account, seal: seal) != nil { kept.append(violation) }
            case .userChanged, .userRolledBack:
                if users == nil { users = Dictionary(try await store.sealedUsers().map { ($0.id, $0.username) }, uniquingKeysWith: { first, _ in first }) }
                guard let userID = violation.userID, let name = users?[userID],
                      let user = try await store.user(named: Username(trustedCanonical: name))
                else {
                    kept.append(violation)
                    continue
                }
                if user.violation != nil { kept.append(violation) }
            case .entryChanged, .entryNotSealed, .entriesMissing, .checkpointInvalid, .historyRewritten, .ledgerRolledBack, .anchorUnreadable, .treeMismatch:
                kept.append(violation)
            }
        }
        return kept
    }
}
