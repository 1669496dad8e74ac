public import Crypto
import IntegraLedger
public import IntegraProtocol
import Synchronization

/// A stand-in for the ledger service that measures everything but the ledger: frames are sealed,
/// opened and checked exactly as in production (MACs, sequence numbers, timestamps, the login key
/// exchange with the signed handshake), and every transfer gets a signed receipt of the same
/// shape, but nothing is stored and no password is checked.
///
/// It is the same-run baseline of the load generator (`integra-server run --echo`); it must never
/// serve customers. Nonces are not remembered across connections, since that needs the store.
public final class EchoService: RequestPerformer {
    private let identityKey: Curve25519.Signing.PrivateKey
    private let maximumAmountCents: Int64
    private let nextPosition = Atomic<UInt64>(1)
    private let nextUserID = Atomic<Int64>(1)
    /// What every echo account reports: a balance that never runs out.
    static let balance = "1000000000.00"

    public init(identityKey: Curve25519.Signing.PrivateKey, maximumAmountCents: Int64) {
        self.identityKey = identityKey
        self.maximumAmountCents = maximumAmountCents
    }

    public func perform(_ request: ServerRequest, context: RequestContext, origin: String) async -> RequestResult {
        do {
            return try self.answer(request, context: context)
        } catch let error as LedgerError {
            return .failed(LedgerService.protocolError(error))
        } catch {
            return .failed(ProtocolError(.internalError, "internal error"))
        }
    }

    private func answer(_ request: ServerRequest, context: RequestContext) throws -> RequestResult {
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
            let parsed = try Amount.parse(amount, maximumCents: self.maximumAmountCents)
            let position = self.nextPosition.wrappingAdd(1, ordering: .relaxed).oldValue
            let confirmation = TransferConfirmation(
                transferID: try TransferID(transferID).value, position: position, sender: session.username,
                recipient: try Username(recipient).canonical, amount: parsed.description, balanceAfter: Self.balance,
                createdAtMs: context.timestampMs, isRetry: false,
                chainHash: Array(SHA256.hash(data: context.nonce.bytes)))
            return .reply(.transferred(try Receipt.sign(confirmation, with: self.identityKey)))
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
