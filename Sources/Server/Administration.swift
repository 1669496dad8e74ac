import Foundation
public import IntegraLedger
import IntegraSQLiteStore
#if MariaDB
import IntegraMariaDBStore
#endif
import IntegraProtocol

/// Operator actions that run beside (or without) a running server: opening the store,
/// adding users and depositing money from the system account.
public enum Administration {
    /// Opens the configured store, creating and migrating it if needed, sealing rows with the
    /// deployment's storage key, and checks that the store belongs to this deployment.
    public static func openStore(_ configuration: ServerConfiguration, keys: DeploymentKeys) async throws -> any LedgerStore {
        let store = try await Self.openUnbound(configuration, seal: LedgerSeal(storageKey: keys.storageKey))
        do {
            try await store.bindDeployment(fingerprint: keys.fingerprint)
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    private static func openUnbound(_ configuration: ServerConfiguration, seal: LedgerSeal) async throws -> any LedgerStore {
        switch configuration.databaseLocation {
        case .sqlite(let path):
            return try await SQLiteLedgerStore.open(path: path, seal: seal)
        case .mariadb(let location):
            #if MariaDB
            var mariadb = MariaDBConfiguration(
                host: location.host, port: location.port, user: location.user, password: location.password, database: location.database, tls: location.tls)
            mariadb.connectTimeoutSeconds = 3
            return try await MariaDBLedgerStore.open(mariadb, seal: seal, poolSize: configuration.databaseConnections)
            #else
            throw ConfigurationError("this build has no MariaDB store; build with `swift build --traits MariaDB`")
            #endif
        }
    }

    /// Creates a customer with a bcrypt-hashed password.
    public static func addUser(name: String, password: String, store: any LedgerStore, hasher: PasswordHasher, policy: PasswordPolicy) async throws -> UserRecord {
        let username = try Username(name)
        try policy.validate(password)
        let hash = try await hasher.hash(password)
        let outcome = try await store.commit([WriteRequest(nonce: nil, operation: .createUser(username: username, passwordHash: hash))], nowMs: WallClock.nowMs())
        switch outcome.first {
        case .userCreated(let user)?: return user
        case .rejected(let error)?: throw error
        default: preconditionFailure("unexpected outcome \(outcome)")
        }
    }

    /// Moves money from the system account to a customer; recorded in the ledger as a deposit.
    public static func deposit(to name: String, amount: String, maximumCents: Int64, transferID: String? = nil, store: any LedgerStore) async throws -> LedgerEntry {
        let intent = DepositIntent(
            transferID: try TransferID(transferID ?? "deposit-\(UUID().uuidString.lowercased())"),
            recipient: try Username(name),
            amount: try Amount.parse(amount, maximumCents: maximumCents))
        let outcome = try await store.commit([WriteRequest(nonce: nil, operation: .deposit(intent))], nowMs: WallClock.nowMs())
        switch outcome.first {
        case .transferred(let receipt)?: return receipt.entry
        case .rejected(let error)?: throw error
        default: preconditionFailure("unexpected outcome \(outcome)")
        }
    }

    /// A random password of `length` letters and digits from the system CSPRNG.
    public static func generatePassword(length: Int = 20) -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}

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
        }
    }
}
