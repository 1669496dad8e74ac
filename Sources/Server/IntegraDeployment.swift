import Crypto
import Foundation
public import IntegraFiles
public import IntegraLedger
import IntegraProtocol
import IntegraTransparency
public import Logging
public import ServiceLifecycle
import NIOCore

/// A running Integra server with everything it owns: keys, store, bcrypt pool, group committer.
///
/// `start` is the quick start: on a new data directory it generates the keys, writes
/// `client.json`, and (unless disabled) creates funded demo users whose passwords it reports once.
/// `run` runs the deployment's long-lived parts as services of one `ServiceGroup`: the store's
/// maintenance, the group committer, the background verifier, the checkpointer, the nonce pruner
/// and the listener.
public final class IntegraDeployment: Service, Sendable {
    public let server: IntegraServer
    public let store: any LedgerStore
    public let keys: DeploymentKeys
    public let configuration: ServerConfiguration
    /// The verified head, checkpoints, the background verifier and the alarms.
    public let monitor: IntegrityMonitor
    /// The bcrypt pool; shut down when `run` returns.
    let hasher: PasswordHasher
    /// The long-lived parts, shut down in reverse order: the listener first (it lets the requests
    /// in flight finish), the group committer last (it commits what they queued).
    private let services: ServiceGroup

    /// A demo user created on first start, with the password shown once.
    public struct DemoUser: Sendable {
        public let name: String
        public let password: String
        public let balance: String
    }

    public static let demoUserNames = ["alice", "bob", "carol"]
    public static let demoBalance = "1000.00"

    private init(
        server: IntegraServer, store: any LedgerStore, keys: DeploymentKeys, configuration: ServerConfiguration, monitor: IntegrityMonitor,
        committer: GroupCommitter, hasher: PasswordHasher, logger: Logger
    ) {
        let pusher = WitnessPusher(
            endpoints: configuration.witnesses, store: store, logVerifier: TreeHeadKey.verifier(identity: keys.identityKey.publicKey),
            witnessed: monitor.witnessed, intervalMs: configuration.witnessPushIntervalMs, logger: logger)
        self.server = server
        self.store = store
        self.keys = keys
        self.configuration = configuration
        self.monitor = monitor
        self.hasher = hasher
        let pruner = NoncePruner(
            store: store, replayWindowMs: configuration.replayWindowMs, intervalMs: configuration.noncePruneIntervalMs,
            clock: configuration.clock, logger: logger)
        self.services = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [
                // A store without background work returns at once; the others run on.
                .init(service: StoreMaintenance(store: store), successTerminationBehavior: .ignore),
                .init(service: GroupCommitService(committer: committer)),
                .init(service: BackgroundVerifier(monitor: monitor)),
                .init(service: PeriodicCheckpointer(monitor: monitor)),
                .init(service: pruner),
                // Without witnesses it returns at once.
                .init(service: pusher, successTerminationBehavior: .ignore),
                .init(service: server),
            ],
            logger: logger))
    }

    /// Prepares the data directory and store, binds the socket and writes `client.json`.
    /// Returns the deployment and the demo users created now (empty after the first start).
    public static func start(configuration: ServerConfiguration, metrics: ServerMetrics = .disabled, logger: Logger) async throws -> (IntegraDeployment, [DemoUser]) {
        try configuration.validate()
        Self.raiseOpenFileLimit(toAtLeast: configuration.maximumConnections + 256, logger: logger)
        let (keys, created) = configuration.echo ? (try Self.echoKeys(configuration), false) : try DeploymentKeys.loadOrCreate(in: configuration.dataDirectory)
        if created { logger.notice("generated new deployment keys", metadata: ["directory": "\(configuration.dataDirectory)"]) }
        let store = try await Administration.openStore(configuration, keys: keys)
        do {
            // The widest replay window ever used decides how long nonces are kept; the bcrypt cost
            // is the one `user add` uses too.
            _ = try await store.record(.maximumReplayWindowMs, configuration.replayWindowMs, onlyRaise: true)
            _ = try await store.record(.bcryptCost, Int64(configuration.bcryptCost), onlyRaise: false)
        } catch {
            await store.close()
            throw error
        }
        let auditTrail = AuditTrail(directory: configuration.auditTrailDirectory, logger: logger)
        let alarms: IntegrityAlarms
        do {
            alarms = try IntegrityAlarms(
                dataDirectory: configuration.dataDirectory, store: store, seal: LedgerSeal(storageKey: keys.storageKey), auditTrail: auditTrail, logger: logger)
        } catch {
            await store.close()
            throw error
        }
        var schedule = IntegrityMonitor.Schedule()
        schedule.checkIntervalMs = configuration.integrityCheckIntervalMs
        schedule.checkpointIntervalMs = configuration.checkpointIntervalMs
        schedule.fullVerifyIntervalMs = configuration.fullVerifyIntervalMs
        let monitor = IntegrityMonitor(
            store: store, seal: LedgerSeal(storageKey: keys.storageKey), identityKey: keys.identityKey, dataDirectory: configuration.dataDirectory,
            alarms: alarms, schedule: schedule, clock: configuration.clock, logger: logger)
        await monitor.start()
        if alarms.isRaised {
            logger.critical("the deployment has open integrity alarms: no money moves and nothing is signed until an operator acknowledges them (`integra-server alarms`)")
        }
        let hasher = PasswordHasher(
            cost: configuration.bcryptCost, threads: configuration.passwordHashingThreads,
            maximumPending: configuration.maximumPendingPasswordJobs, metrics: metrics)
        let clock = configuration.clock
        let observer: @Sendable (Int, Int64, Bool) -> Void = { metrics.groupCommitted(batchSize: $0, nanoseconds: $1, failed: $2) }
        // Echo mode commits its groups to a tree in memory (`EchoLedger`), never to the store.
        let committer = configuration.echo
            ? GroupCommitter.echo(
                identityKey: keys.identityKey, maximumBatchSize: configuration.groupCommitBatchSize, clock: { clock.nowMs() }, observer: observer)
            : GroupCommitter(store: store, maximumBatchSize: configuration.groupCommitBatchSize, clock: { clock.nowMs() }, observer: observer)
        var demoUsers: [DemoUser] = []
        do {
            if created && configuration.createDemoUsers {
                demoUsers = try await Self.createDemoUsers(store: store, hasher: hasher, configuration: configuration)
            }
            let service = LedgerService(
                store: store, committer: committer, hasher: hasher, keys: keys, monitor: monitor, configuration: configuration, metrics: metrics,
                logger: logger)
            let tls = configuration.plaintext ? nil : try ServerTLS.load(configuration)
            if configuration.plaintext {
                logger.critical("PLAINTEXT MODE: no TLS. Frames stay integrity-checked, but passwords and amounts are readable on the wire. For loopback debugging only; never serve customers like this.")
            }
            let server = try await IntegraServer.bind(configuration: configuration, keys: keys, tls: tls, service: service, auditTrail: auditTrail, metrics: metrics, logger: logger)
            let port = server.localAddress.port ?? configuration.port
            let address = configuration.host.contains(":") ? "[\(configuration.host)]:\(port)" : "\(configuration.host):\(port)"
            try keys.writeClientConfiguration(
                in: configuration.dataDirectory, server: address,
                replayWindowSeconds: Int(configuration.replayWindowMs / 1000), tlsPublicKeySHA256: tls?.publicKeySHA256,
                witnesses: configuration.witnesses.map(\.verifierKey), witnessThreshold: configuration.witnessThreshold)
            logger.notice("listening", metadata: [
                "address": "\(address)", "transport": "\(tls == nil ? "plaintext" : "tls1.3")", "data": "\(configuration.dataDirectory)",
                "store": "\(configuration.databaseLocation.redacted)",
            ])
            let deployment = IntegraDeployment(
                server: server, store: store, keys: keys, configuration: configuration, monitor: monitor, committer: committer, hasher: hasher,
                logger: logger)
            return (deployment, demoUsers)
        } catch {
            await hasher.shutdown()
            await store.close()
            throw error
        }
    }

    /// Runs the deployment's services until a graceful shutdown of the service group that runs
    /// the deployment (SIGTERM, SIGINT) or `shutdown()`; then signs a last checkpoint and
    /// releases everything.
    public func run() async throws {
        var failure: (any Error)? = nil
        do {
            try await self.services.run()
        } catch {
            failure = error
        }
        await self.monitor.checkpoint()
        self.server.auditTrail.close()
        await self.hasher.shutdown()
        await self.store.close()
        if let failure { throw failure }
    }

    /// Password jobs queued or running on the bcrypt pool.
    var passwordJobs: Int { self.hasher.pendingJobs }

    /// Shuts the deployment down gracefully, as SIGTERM does; `run()` returns once it is done.
    public func shutdown() async {
        await self.services.triggerGracefulShutdown()
    }

    /// Echo mode's keys: fresh, in memory only, so its receipts never verify against a real
    /// deployment's `client.json`. A data directory that holds a deployment is refused.
    private static func echoKeys(_ configuration: ServerConfiguration) throws -> DeploymentKeys {
        guard configuration.database == nil else {
            throw ConfigurationError("--echo keeps no ledger: remove --database")
        }
        let directory = configuration.dataDirectory
        let deploymentFiles = ["client.key", "identity.key", "storage.key", "integra.sqlite", Checkpointer.anchorFileName, "client.json"]
        if let found = deploymentFiles.first(where: { DataDirectory.entryExists("\(directory)/\($0)") }) {
            throw ConfigurationError("--echo refuses \(directory): it holds \(found) of a deployment; give echo mode an empty directory of its own")
        }
        try DataDirectory.prepare(directory)
        return DeploymentKeys(clientKey: SymmetricKey(size: .bits256), identityKey: Curve25519.Signing.PrivateKey(), storageKey: SymmetricKey(size: .bits256))
    }

    /// Each connection is a file descriptor: raise the soft limit towards the hard limit so the
    /// configured connection count is reachable.
    static func raiseOpenFileLimit(toAtLeast wanted: Int, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(wanted) else { return }
        limit.rlim_cur = min(limit.rlim_max, rlim_t(wanted))
        if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) != 0 || limit.rlim_cur < rlim_t(wanted) {
            logger.warning("open file limit is below the connection limit", metadata: ["limit": "\(limit.rlim_cur)", "wanted": "\(wanted)"])
        }
    }

    private static func createDemoUsers(store: any LedgerStore, hasher: PasswordHasher, configuration: ServerConfiguration) async throws -> [DemoUser] {
        var users: [DemoUser] = []
        for name in Self.demoUserNames {
            let password = Administration.generatePassword()
            _ = try await Administration.addUser(
                name: name, password: password, store: store, hasher: hasher, policy: configuration.passwordPolicy, clock: configuration.clock)
            _ = try await Administration.deposit(
                to: name, amount: Self.demoBalance, maximumCents: Int64.max, transferID: "demo-\(name)", store: store, clock: configuration.clock)
            users.append(DemoUser(name: name, password: password, balance: Self.demoBalance))
        }
        return users
    }
}
