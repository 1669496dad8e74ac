public import IntegraFiles
public import IntegraLedger
import IntegraMariaDBStore
import IntegraProtocol
import IntegraSQLiteStore

/// Opens the store a `DatabaseLocation` names, bound to one deployment: the only place that
/// knows the concrete stores. The server, the admin commands and the tools open stores here and
/// see only `LedgerStore`.
public enum StoreFactory {
    /// How a store is opened.
    public enum Access: Sendable {
        /// `run`: create the SQLite file and the schema if needed, upgrade it.
        case create
        /// Admin commands: an existing store (the SQLite file must exist), upgraded if needed.
        case existing
        /// `verify`: an existing store at the latest schema, read-only; nothing is written.
        case readOnly
    }

    /// Opens the store at `location` (see `Access`), sealing rows with the deployment's storage
    /// key, and checks that the store belongs to this deployment. `connections` is the MariaDB
    /// connection pool's size.
    public static func open(_ location: DatabaseLocation, connections: Int, keys: DeploymentKeys, access: Access = .create) async throws -> any LedgerStore {
        let signer = access == .readOnly ? nil : TreeHeadSigner(identityKey: keys.identityKey)
        let store = try await Self.openUnbound(location, connections: connections, seal: LedgerSeal(storageKey: keys.storageKey), signer: signer, access: access)
        do {
            try await store.bindDeployment(fingerprint: keys.fingerprint)
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    private static func openUnbound(_ location: DatabaseLocation, connections: Int, seal: LedgerSeal, signer: TreeHeadSigner?, access: Access) async throws -> any LedgerStore {
        switch location {
        case .sqlite(let path):
            switch access {
            case .create:
                return try await SQLiteLedgerStore.open(path: path, seal: seal, signer: signer)
            case .existing, .readOnly:
                guard DataDirectory.entryExists(path) else { throw StoreMissing(location: "sqlite:\(path)") }
                return try await SQLiteLedgerStore.open(path: path, seal: seal, signer: signer, mode: access == .readOnly ? .readOnly : .readWrite)
            }
        case .mariadb(let configuration):
            #if MariaDB
            return try await MariaDBLedgerStore.open(configuration, seal: seal, signer: signer, poolSize: connections, readOnly: access == .readOnly)
            #else
            throw ConfigurationError("this build has no MariaDB store; build with `swift build --traits MariaDB`")
            #endif
        }
    }
}

/// An admin command named a store that does not exist (only `run` creates one).
public struct StoreMissing: Error, CustomStringConvertible {
    public let location: String

    public var description: String {
        "there is no Integra store at \(self.location); check --data-dir and --database (only `integra-server run` creates one)"
    }
}
