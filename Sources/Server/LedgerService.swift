import Crypto
public import IntegraFiles
public import IntegraLedger
public import IntegraProtocol
public import Logging

/// Carries out authenticated requests against the ledger: validates domain input, hashes and
/// checks passwords on the bcrypt pool, and routes every change (with its request's nonce)
/// through the group committer.
public final class LedgerService: Sendable {
    public let store: any LedgerStore
    /// The deployment's group committer (in echo mode, over `EchoLedger`).
    let committer: GroupCommitter
    private let hasher: PasswordHasher
    private let configuration: ServerConfiguration
    private let identityKey: Curve25519.Signing.PrivateKey
    private let seal: LedgerSeal
    /// The verified head, the checkpoints and proofs, and the alarms.
    public let monitor: IntegrityMonitor
    /// Issues the device tokens of successful logins.
    public let deviceTokens: DeviceTokens
    /// The server's budget of transfers to names that do not exist, per account and address.
    public let recipientProbes: RecipientProbeLimiter
    private let logger: Logger
    private let metrics: ServerMetrics

    public init(
        store: any LedgerStore, committer: GroupCommitter, hasher: PasswordHasher, keys: DeploymentKeys, monitor: IntegrityMonitor,
        configuration: ServerConfiguration, metrics: ServerMetrics = .disabled, logger: Logger
    ) {
        self.metrics = metrics
        self.identityKey = keys.identityKey
        self.seal = LedgerSeal(storageKey: keys.storageKey)
        self.deviceTokens = DeviceTokens(storageKey: keys.storageKey)
        self.monitor = monitor
        self.store = store
        self.committer = committer
        self.hasher = hasher
        self.configuration = configuration
        self.recipientProbes = RecipientProbeLimiter(policy: configuration.recipientProbes)
        self.logger = logger
    }

    /// Answers one request. Never throws: every failure becomes a coded error for the peer.
    public func perform(_ request: ServerRequest, context: RequestContext, origin: String = "") async -> RequestResult {
        let nonce = NonceRecord(bytes: context.nonce.bytes, timestampMs: context.timestampMs)
        do {
            switch request {
            case .register(let name, let password):
                return try await self.register(name: name, password: password, nonce: nonce, origin: origin)
            case .login(let name, let password):
                return try await self.login(name: name, password: password, origin: origin)
            case .logout:
                return .loggedOut
            case .transfer(let session, let transferID, let recipient, let amount):
                let intent = TransferIntent(
                    senderID: session.userID, sender: Username(trustedCanonical: session.username),
                    transferID: try TransferID(transferID), recipient: try Username(recipient),
                    amount: try Amount.parse(amount, maximumCents: self.configuration.maximumAmountCents),
                    senderCredentialVersion: session.credentialVersion)
                // No money moves, and no receipt is signed, while an alarm is open.
                guard !self.monitor.alarms.isRaised else { throw LedgerError.alarmRaised }
                guard self.recipientProbes.allows(account: session.userID, address: origin, nowMs: self.configuration.clock.nowMs()) else {
                    return .failed(ProtocolError(.rateLimited, "too many transfers to names that do not exist; slow down"))
                }
                let outcome = await self.committer.submit(WriteRequest(nonce: nonce, operation: .transfer(intent)))
                if case .rejected(.unknownRecipient) = outcome {
                    self.recipientProbes.recordUnknownRecipient(account: session.userID, address: origin, nowMs: self.configuration.clock.nowMs())
                }
                guard case .transferred(let receipt) = outcome else { return try await self.unexpected(outcome) }
                guard !self.monitor.alarms.isRaised else { throw LedgerError.alarmRaised }
                // The receipt is the entry, the head signed for its group and its path to that
                // head; one that the stored tree could not prove is never handed out.
                guard let confirmation = Self.confirmation(receipt) else {
                    throw await self.alarm(IntegrityViolation(
                        kind: .treeMismatch, message: "the stored tree does not prove entry \(receipt.entry.position) in the latest signed head"))
                }
                return .reply(.transferred(confirmation))
            // Reads record no nonce: a frame's MAC covers its connection's id and its sequence
            // number, so it can't be replayed on another connection or again on its own
            // (docs/PROTOCOL.md, section 6). Only requests that change something record one, in
            // the same transaction as the change.
            case .balance(let session):
                let cents = try await self.checkedBalance(ofUserID: session.userID, session: session)
                return .reply(.balanceReport(username: session.username, balance: Amount.format(cents: cents)))
            case .history(let session, let before, let limit):
                _ = try await self.checkedBalance(ofUserID: session.userID, session: session)
                return .reply(try await self.historyPage(of: session.userID, before: before, limit: limit))
            case .treeProof(let session, let position, let fromTreeSize):
                _ = try await self.checkedBalance(ofUserID: session.userID, session: session)
                return .reply(.treeProofs(try await self.monitor.treeProofs(position: position, fromTreeSize: fromTreeSize, partyUserID: session.userID)))
            case .proof(let session, let position):
                _ = try await self.checkedBalance(ofUserID: session.userID, session: session)
                return .reply(.inclusionProof(try await self.monitor.proof(position: position, partyUserID: session.userID)))
            case .changePassword(let session, let current, let new):
                return try await self.changePassword(session: session, current: current, new: new, nonce: nonce, origin: origin)
            }
        } catch let error as LedgerError {
            switch error {
            case .storeUnavailable(let detail):
                self.metrics.storeFailed()
                self.logger.error("store unavailable", metadata: ["error": "\(detail)"])
            case .integrityAlarm(let violation):
                await self.monitor.raise(violation)
            default:
                break
            }
            return .failed(Self.protocolError(error))
        } catch let error as ProtocolError {
            return .failed(error)
        } catch is PasswordHasher.Busy {
            return .failed(ProtocolError(.serverBusy, "the server is busy, try again"))
        } catch {
            self.logger.error("request failed", metadata: ["error": "\(error)"])
            return .failed(ProtocolError(.internalError, "internal error"))
        }
    }

    private func register(name: String, password: String, nonce: NonceRecord, origin: String) async throws -> RequestResult {
        let username = try Username(registering: name)
        try self.configuration.passwordPolicy.validate(password)
        let hash = try await self.hasher.hash(password, fairnessKey: origin)
        let outcome = await self.committer.submit(WriteRequest(nonce: nonce, operation: .createUser(username: username, passwordHash: hash)))
        guard case .userCreated(let user) = outcome else { return try await self.unexpected(outcome) }
        self.logger.info("user registered", metadata: ["user": "\(user.username)"])
        return .reply(.registered(username: user.username.canonical))
    }

    private func login(name: String, password: String, origin: String) async throws -> RequestResult {
        let username = try? Username(name)
        var user: UserRecord? = nil
        if let username { user = try await self.store.user(named: username) }
        var tampered: IntegrityViolation? = nil
        if let violation = user?.violation {
            // The row was changed outside Integra (a swapped password hash) or an older copy was
            // restored (an old password): its hash is never trusted. The same bcrypt work is done.
            tampered = violation
            user = nil
        }
        let plausible = self.configuration.passwordPolicy.isPlausible(password)
        // Unknown names, impossible passwords and wrong passwords all cost one bcrypt verify
        // and get the same answer.
        let matches = try await self.hasher.verify(plausible ? password : "", hash: plausible ? user?.passwordHash : nil, fairnessKey: origin)
        if let tampered { throw await self.alarm(tampered) }
        guard matches, let user else {
            self.logger.notice("login failed", metadata: ["user": "\(username?.canonical ?? "<invalid>")"])
            return .failed(ProtocolError(.invalidCredentials, "unknown user or wrong password"))
        }
        let balance = try await self.checkedBalance(ofUserID: user.id, session: nil)
        await self.rehashIfNeeded(user, password: password, origin: origin)
        var random = SystemRandomSource()
        let token = self.deviceTokens.issue(canonicalName: user.username.canonical, nowMs: self.configuration.clock.nowMs(), random: &random)
        return .loginSucceeded(LoginGrant(
            identity: SessionIdentity(userID: user.id, username: user.username.canonical, credentialVersion: user.credentialVersion),
            balance: Amount.format(cents: balance), deviceToken: token))
    }

    /// A password stored at another bcrypt cost than the deployment's is hashed again at it, so
    /// that every login costs the same whatever the account (an unknown name costs the
    /// deployment's cost too). Best effort: a failure leaves the old hash, which still works.
    private func rehashIfNeeded(_ user: UserRecord, password: String, origin: String) async {
        guard PasswordHasher.cost(of: user.passwordHash) != self.hasher.cost,
              let hash = try? await self.hasher.hash(password, fairnessKey: origin)
        else { return }
        _ = await self.committer.submit(WriteRequest(nonce: nil, operation: .rehashPassword(userID: user.id, expectedHash: user.passwordHash, newHash: hash)))
    }

    /// The balance to show, once the account row passed its check (or raised the alarm), and, for
    /// a session, once the session is found current: a password changed since it began ends it.
    private func checkedBalance(ofUserID userID: Int64, session: SessionIdentity?) async throws -> Int64 {
        guard let account = try await self.store.account(ofUserID: userID) else { throw LedgerError.unknownUser }
        if let violation = LedgerIntegrity.check(account, seal: self.seal) { throw await self.alarm(violation) }
        if let session, session.credentialVersion != account.credentialVersion { throw LedgerError.sessionEnded }
        return account.balanceCents
    }

    /// One page of a customer's history, every entry checked, stopping before the frame would
    /// exceed what a client accepts; `nextBefore` then says where to continue.
    private func historyPage(of userID: Int64, before: UInt64?, limit: UInt16) async throws -> ServerMessage {
        let beforePosition = before.map { Int64(clamping: $0) }
        let entries = try await self.store.sealedHistory(ofUserID: userID, beforePosition: beforePosition, limit: Int(limit) + 1)
        for entry in entries {
            if let violation = LedgerIntegrity.check(entry, seal: self.seal) { throw await self.alarm(violation) }
        }
        var page: [HistoryEntry] = []
        var bytes = 0
        var complete = true
        for entry in entries.prefix(Int(limit)) {
            guard let shown = Self.historyEntry(entry.sealed.entry, viewerID: userID) else { continue }
            let size = HistoryEntry.encodedByteCount(shown)
            guard bytes + size <= HistoryEntry.maximumPageBytes else {
                complete = false
                break
            }
            bytes += size
            page.append(shown)
        }
        let more = !complete || entries.count > Int(limit)
        return .historyPage(entries: page, nextBefore: more ? page.last.map(\.position) ?? before : nil)
    }

    /// Raises the alarm for a finding and returns the error that refuses the request.
    private func alarm(_ violation: IntegrityViolation) async -> LedgerError {
        await self.monitor.raise(violation)
        return .alarmRaised
    }

    private func changePassword(session: SessionIdentity, current: String, new: String, nonce: NonceRecord, origin: String) async throws -> RequestResult {
        try self.configuration.passwordPolicy.validate(new)
        let user = try await self.store.user(named: Username(trustedCanonical: session.username))
        guard let user, user.id == session.userID else { throw LedgerError.unknownUser }
        if let violation = user.violation { throw await self.alarm(violation) }
        guard user.credentialVersion == session.credentialVersion else { throw LedgerError.sessionEnded }
        guard try await self.hasher.verify(current, hash: user.passwordHash, fairnessKey: origin) else {
            return .failed(ProtocolError(.invalidCredentials, "the current password is wrong"))
        }
        let hash = try await self.hasher.hash(new, fairnessKey: origin)
        guard !self.monitor.alarms.isRaised else { throw LedgerError.alarmRaised }
        let outcome = await self.committer.submit(WriteRequest(nonce: nonce, operation: .changePassword(userID: user.id, username: user.username, passwordHash: hash)))
        guard case .passwordChanged = outcome else { return try await self.unexpected(outcome) }
        return .passwordChanged(credentialVersion: user.credentialVersion + 1)
    }

    /// A rejected outcome becomes its error (raising the alarm for an integrity finding); any
    /// other outcome here is a programmer error.
    private func unexpected(_ outcome: WriteOutcome) async throws -> RequestResult {
        guard case .rejected(let error) = outcome else { preconditionFailure("unexpected outcome \(outcome)") }
        if case .integrityAlarm(let violation) = error { throw await self.alarm(violation) }
        throw error
    }

    /// The receipt of a committed transfer, proven by the transparency log; nil without a proof.
    static func confirmation(_ receipt: TransferReceipt) -> TransferConfirmation? {
        guard let inclusion = receipt.inclusion else { return nil }
        let entry = receipt.entry
        return TransferConfirmation(
            transferID: entry.transferID.value, position: UInt64(entry.position),
            sender: entry.from.canonical, recipient: entry.to.canonical, amount: entry.amount.description,
            balanceAfter: Amount.format(cents: entry.fromBalanceAfterCents), createdAtMs: entry.createdAtMs,
            isRetry: receipt.isRetry, chainHash: receipt.chainHash, entry: LedgerSeal.encoding(of: entry),
            treeHead: inclusion.head.note, inclusionPath: inclusion.path)
    }

    /// A money entry as the customer sees it; nil for a password change (not money: history
    /// never shows one).
    static func historyEntry(_ entry: LedgerEntry, viewerID: Int64) -> HistoryEntry? {
        let kind: HistoryEntry.Kind
        switch entry.kind {
        case .transfer: kind = .transfer
        case .deposit: kind = .deposit
        case .credentialChange: return nil
        }
        let balance = entry.fromUserID == viewerID ? entry.fromBalanceAfterCents : entry.toBalanceAfterCents
        return HistoryEntry(
            position: UInt64(entry.position), kind: kind, transferID: entry.transferID.value,
            sender: entry.from.canonical, recipient: entry.to.canonical, amount: entry.amount.description,
            balanceAfter: Amount.format(cents: balance), createdAtMs: entry.createdAtMs)
    }

    /// The stable wire code and customer-safe message for a ledger error.
    static func protocolError(_ error: LedgerError) -> ProtocolError {
        switch error {
        case .invalidAmount(let message): ProtocolError(.invalidAmount, message)
        case .invalidUsername(let message): ProtocolError(.invalidUsername, message)
        case .invalidPassword(let message): ProtocolError(.invalidPassword, message)
        case .invalidTransferID(let message): ProtocolError(.invalidTransferID, message)
        case .usernameTaken: ProtocolError(.usernameTaken, "that name is taken")
        case .unknownUser: ProtocolError(.invalidCredentials, "unknown user or wrong password")
        case .unknownRecipient: ProtocolError(.unknownRecipient, "the recipient does not exist")
        case .selfTransfer: ProtocolError(.selfTransfer, "sender and recipient are the same")
        case .insufficientFunds: ProtocolError(.insufficientFunds, "insufficient funds")
        case .balanceOverflow: ProtocolError(.balanceOverflow, "the recipient's balance would overflow")
        case .transferIDConflict: ProtocolError(.transferIDConflict, "this transfer id was already used for a different transfer")
        case .replayedNonce: ProtocolError(.replayDetected, "this request was already received")
        case .storeUnavailable: ProtocolError(.storeUnavailable, "the ledger is unavailable, try again with the same transfer id")
        case .deploymentMismatch: ProtocolError(.internalError, "internal error")
        case .integrityAlarm, .alarmRaised:
            ProtocolError(.integrityAlarm, "the server found stored data it did not write; it moves no money until an operator has checked it")
        case .overloaded: ProtocolError(.serverBusy, "the server is busy, try again")
        case .sessionEnded: ProtocolError(.sessionEnded, "the password was changed since this session began; log in again")
        }
    }
}
