import Crypto
import IntegraLedger
public import IntegraProtocol
import Synchronization

/// A stand-in for the ledger service that measures everything but the ledger: frames are sealed,
/// opened and checked exactly as in production (MACs, sequence numbers, timestamps, the login key
/// exchange with the signed handshake), and transfers go through a group committer into a
/// Merkle tree in memory (`EchoLedger`) that signs one tree head per group, so every receipt has
/// the same shape and costs the same signatures as a real one; but nothing is stored and no
/// password is checked.
///
/// It is the same-run baseline of the load generator (`integra-server run --echo`); it must never
/// serve customers. Nonces are not remembered across connections, since that needs the store.
public final class EchoService: RequestPerformer {
    private let committer: GroupCommitter
    private let maximumAmountCents: Int64
    private let nextUserID = Atomic<Int64>(1)
    /// What every echo account reports: a balance that never runs out.
    static let balance = Amount.format(cents: EchoLedger.balanceCents)

    /// - Parameter committer: a committer over `EchoLedger.commit` (`GroupCommitter.echo`), run
    ///   by the deployment like the real one.
    init(committer: GroupCommitter, maximumAmountCents: Int64) {
        self.committer = committer
        self.maximumAmountCents = maximumAmountCents
    }

    public func perform(_ request: ServerRequest, context: RequestContext, origin: String) async -> RequestResult {
        do {
            return try await self.answer(request, context: context)
        } catch let error as LedgerError {
            return .failed(LedgerService.protocolError(error))
        } catch {
            return .failed(ProtocolError(.internalError, "internal error"))
        }
    }

    private func answer(_ request: ServerRequest, context: RequestContext) async throws -> RequestResult {
        switch request {
        case .register(let name, _):
            return .reply(.registered(username: try Username(registering: name).canonical))
        case .login(let name, _):
            let userID = self.nextUserID.wrappingAdd(1, ordering: .relaxed).oldValue
            return .loginSucceeded(LoginGrant(
                identity: SessionIdentity(userID: userID, username: try Username(name).canonical, credentialVersion: 0),
                balance: Self.balance, deviceToken: nil))
        case .logout:
            return .loggedOut
        case .transfer(let session, let transferID, let recipient, let amount):
            let intent = TransferIntent(
                senderID: session.userID, sender: Username(trustedCanonical: session.username), transferID: try TransferID(transferID),
                recipient: try Username(recipient), amount: try Amount.parse(amount, maximumCents: self.maximumAmountCents))
            let outcome = await self.committer.submit(WriteRequest(nonce: nil, operation: .transfer(intent)))
            switch outcome {
            case .transferred(let receipt):
                guard let confirmation = LedgerService.confirmation(receipt) else { preconditionFailure("the echo ledger proves every receipt") }
                return .reply(.transferred(confirmation))
            case .rejected(let error):
                throw error
            default:
                preconditionFailure("a transfer is transferred or rejected, not \(outcome)")
            }
        case .balance(let session):
            return .reply(.balanceReport(username: session.username, balance: Self.balance))
        case .history:
            return .reply(.historyPage(entries: [], nextBefore: nil))
        case .changePassword(let session, _, _):
            return .passwordChanged(credentialVersion: session.credentialVersion + 1)
        case .proof, .treeProof:
            return .failed(ProtocolError(.entryNotFound, "the echo server keeps no ledger"))
        }
    }
}

extension GroupCommitter {
    /// The echo baseline's committer: the same group commits as the real ledger's, into a tree
    /// in memory signed with `identityKey` (echo mode's fresh key).
    static func echo(
        identityKey: Curve25519.Signing.PrivateKey, maximumBatchSize: Int, clock: @escaping @Sendable () -> Int64,
        observer: @escaping @Sendable (_ batchSize: Int, _ nanoseconds: Int64, _ failed: Bool) -> Void
    ) -> GroupCommitter {
        let ledger = EchoLedger(signer: TreeHeadSigner(identityKey: identityKey))
        return GroupCommitter(
            commit: { requests, nowMs throws(LedgerError) in try ledger.commit(requests, nowMs: nowMs) },
            maximumBatchSize: maximumBatchSize, clock: clock, observer: observer)
    }
}
