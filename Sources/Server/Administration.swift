public import Crypto
import Foundation
public import IntegraLedger
public import IntegraFiles
public import IntegraStoreFactory
public import IntegraProtocol

/// Operator actions that run beside (or without) a running server: opening the store,
/// adding users and depositing money from the system account.
public enum Administration {
    /// Opens the configured store (see `StoreFactory.Access`), bound to this deployment.
    public static func openStore(_ configuration: ServerConfiguration, keys: DeploymentKeys, access: StoreFactory.Access = .create) async throws -> any LedgerStore {
        try await StoreFactory.open(configuration.databaseLocation, connections: configuration.databaseConnections, keys: keys, access: access)
    }

    /// Creates a customer with a bcrypt-hashed password; `clock` stamps the entry.
    public static func addUser(
        name: String, password: String, store: any LedgerStore, hasher: PasswordHasher, policy: PasswordPolicy, clock: WallClock = .system
    ) async throws -> UserRecord {
        let username = try Username(registering: name)
        try policy.validate(password)
        let hash = try await hasher.hash(password)
        let outcome = try await store.commit([WriteRequest(nonce: nil, operation: .createUser(username: username, passwordHash: hash))], nowMs: clock.nowMs())
        switch outcome.first {
        case .userCreated(let user)?: return user
        case .rejected(let error)?: throw error
        default: preconditionFailure("unexpected outcome \(outcome)")
        }
    }

    /// Moves money from the system account to a customer; recorded in the ledger as a deposit,
    /// stamped by `clock`. Refused while the deployment has open integrity alarms (`alarms`).
    public static func deposit(
        to name: String, amount: String, maximumCents: Int64, transferID: String? = nil, store: any LedgerStore, alarms: IntegrityAlarms? = nil,
        clock: WallClock = .system
    ) async throws -> LedgerEntry {
        if let alarms {
            try await alarms.refresh()
            guard !alarms.isRaised else { throw LedgerError.alarmRaised }
        }
        let intent = DepositIntent(
            transferID: try TransferID(transferID ?? "deposit-\(UUID().uuidString.lowercased())"),
            recipient: try Username(name),
            amount: try Amount.parse(amount, maximumCents: maximumCents))
        let outcome = try await store.commit([WriteRequest(nonce: nil, operation: .deposit(intent))], nowMs: clock.nowMs())
        switch outcome.first {
        case .transferred(let receipt)?: return receipt.entry
        case .rejected(let error)?: throw error
        default: preconditionFailure("unexpected outcome \(outcome)")
        }
    }

    /// Refuses to write to a store that does not hold the ledger the deployment's last signed
    /// checkpoint (`checkpoint.json`) covers: an older copy of the database restored, entries
    /// removed or history rewritten. A write there would reuse positions and sign a second tree
    /// head for a size that already has one. `run` raises the same alarm at its start; the admin
    /// commands that write check it first.
    public static func checkAnchor(store: any LedgerStore, dataDirectory: String, identity: Curve25519.Signing.PublicKey) async throws {
        let anchor: LedgerCheckpoint
        switch Checkpointer.loadAnchor(dataDirectory: dataDirectory) {
        case .absent: return
        case .unreadable(let reason): throw LedgerError.integrityAlarm(IntegrityViolation(kind: .anchorUnreadable, message: reason))
        case .present(let present): anchor = present
        }
        guard Checkpointer.isAuthentic(anchor, identity: identity) else {
            throw LedgerError.integrityAlarm(IntegrityViolation(kind: .checkpointInvalid, message: "\(Checkpointer.anchorFileName) is not signed by this server"))
        }
        if let violation = try await Checkpointer.violation(of: anchor, in: store) { throw LedgerError.integrityAlarm(violation) }
    }

    /// A random password of `length` letters and digits from the system CSPRNG.
    public static func generatePassword(length: Int = 20) -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}

/// The store an admin command names does not exist (only `integra-server run` creates one).
/// A message for the operator about a failed admin action or start.
extension LedgerError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidAmount(let message), .invalidUsername(let message), .invalidPassword(let message), .invalidTransferID(let message):
            message
        case .usernameTaken: "that name is taken"
        case .unknownUser: "unknown user"
        case .unknownRecipient: "no such customer"
        case .selfTransfer: "sender and recipient are the same"
        case .insufficientFunds: "insufficient funds"
        case .balanceOverflow: "the balance would overflow"
        case .transferIDConflict: "this transfer id was already used for a different transfer"
        case .replayedNonce: "replayed request"
        case .storeUnavailable(let detail): "the store is unavailable: \(detail)"
        case .deploymentMismatch: "the database belongs to a deployment with other keys; copy client.key, identity.key and storage.key from an instance of that deployment into the data directory"
        case .integrityAlarm(let violation): "integrity alarm: \(violation)"
        case .alarmRaised: "the deployment has open integrity alarms (`integra-server alarms` lists them); no money moves until an operator has dealt with them"
        case .overloaded: "the server is busy"
        case .sessionEnded: "the session ended"
        }
    }
}
