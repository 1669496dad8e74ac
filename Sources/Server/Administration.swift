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
    /// How an admin command opens the store.
    public enum StoreAccess: Sendable {
        /// `run`: create the SQLite file and the schema if needed, upgrade it.
        case create
        /// Admin commands: an existing store (the SQLite file must exist), upgraded if needed.
        case existing
        /// `verify`: an existing store at the latest schema, read-only; nothing is written.
        case readOnly
    }

    /// Opens the configured store (see `StoreAccess`), sealing rows with the deployment's storage
    /// key, and checks that the store belongs to this deployment.
    public static func openStore(_ configuration: ServerConfiguration, keys: DeploymentKeys, access: StoreAccess = .create) async throws -> any LedgerStore {
        let store = try await Self.openUnbound(configuration, seal: LedgerSeal(storageKey: keys.storageKey), access: access)
        do {
            try await store.bindDeployment(fingerprint: keys.fingerprint)
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    private static func openUnbound(_ configuration: ServerConfiguration, seal: LedgerSeal, access: StoreAccess) async throws -> any LedgerStore {
        switch configuration.databaseLocation {
        case .sqlite(let path):
            switch access {
            case .create:
                return try await SQLiteLedgerStore.open(path: path, seal: seal)
            case .existing, .readOnly:
                guard DataDirectory.entryExists(path) else { throw StoreMissing(location: "sqlite:\(path)") }
                return try await SQLiteLedgerStore.open(path: path, seal: seal, mode: access == .readOnly ? .readOnly : .readWrite)
            }
        case .mariadb(let location):
            #if MariaDB
            var mariadb = MariaDBConfiguration(
                host: location.host, port: location.port, user: location.user, password: location.password, database: location.database, tls: location.tls)
            mariadb.connectTimeoutSeconds = 3
            return try await MariaDBLedgerStore.open(mariadb, seal: seal, poolSize: configuration.databaseConnections, readOnly: access == .readOnly)
            #else
            throw ConfigurationError("this build has no MariaDB store; build with `swift build --traits MariaDB`")
            #endif
        }
    }

    /// Creates a customer with a bcrypt-hashed password.
    public static func addUser(name: String, password: String, store: any LedgerStore, hasher: PasswordHasher, policy: PasswordPolicy) async throws -> UserRecord {
        let username = try Username(registering: name)
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
    /// Refused while the deployment has open integrity alarms (`alarms`).
    public static func deposit(to name: String, amount: String, maximumCents: Int64, transferID: String? = nil, store: any LedgerStore, alarms: IntegrityAlarms? = nil) async throws -> LedgerEntry {
        if let alarms {
            try await alarms.refresh()
            guard !alarms.isRaised else { throw LedgerError.alarmRaised }
        }
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

/// The store an admin command names does not exist (only `integra-server run` creates one).
public struct StoreMissing: Error, CustomStringConvertible {
    public let location: String

    public var description: String {
        "there is no Integra store at \(self.location); check --data-dir and --database (only `integra-server run` creates one)"
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
        case .integrityAlarm(let violation): "integrity alarm: \(violation)"
        case .alarmRaised: "the deployment has open integrity alarms (`integra-server alarms` lists them); no money moves until an operator has dealt with them"
        case .overloaded: "the server is busy"
        case .sessionEnded: "the session ended"
        }
    }
}
